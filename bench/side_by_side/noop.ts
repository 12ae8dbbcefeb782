/**
 * Cold start floor: the runtime starting and exiting with nothing imported (python3 -c pass).
 * Prints the runtime's name and version.
 * @module
 */
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
console.log(g.Deno ? `Deno ${g.Deno.version.deno}` : `Bun ${g.Bun.version}`);
