/**
 * Shared harness for the fuzz targets: seeded, bounded fast-check runs (FUZZ_RUNS, FUZZ_SEED),
 * a per-input time budget so a hang fails instead of stalling CI, the "only these error types"
 * check, and generators for arbitrary and mutated CTAP bytes.
 *
 * CI runs every target at FUZZ_RUNS=2000 (the default) with a fixed seed; `npm run fuzz` runs
 * them at 200 000 with a random seed and FUZZ_REPORT=1, which prints one `FUZZ_STATS` line per
 * target for scripts/fuzz.mjs to tabulate.
 * @module
 */
import process from "node:process";
import fc from "fast-check";
import { decode, encode } from "../../src/cbor.ts";

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${raw}`);
  return n;
}

/** Inputs per target at scale 1. */
export const FUZZ_RUNS: number = intEnv("FUZZ_RUNS", 2000);
/** The fast-check seed shared by every target of one run. */
export const FUZZ_SEED: number = intEnv("FUZZ_SEED", 20260801);
/** Longest time one input may take before it counts as a hang (ms). */
export const FUZZ_HANG_MS: number = intEnv("FUZZ_HANG_MS", 2000);
const REPORT = process.env.FUZZ_REPORT === "1";

/** Options of one fuzz target. */
export interface FuzzOptions {
  /** Fraction of FUZZ_RUNS for targets whose inputs are expensive (e.g. signature checks). */
  readonly scale?: number;
}

function runsFor(opts: FuzzOptions): number {
  return Math.max(1, Math.round(FUZZ_RUNS * (opts.scale ?? 1)));
}

function failure(name: string, runs: number, e: unknown): Error {
  const how = `FUZZ_SEED=${FUZZ_SEED} FUZZ_RUNS=${FUZZ_RUNS}`;
  console.error(`fuzz target "${name}" failed; reproduce with ${how}`);
  const msg = e instanceof Error ? e.message : String(e);
  return new Error(`fuzz target "${name}" failed (${how}, ${runs} runs)\n${msg}`, { cause: e });
}

function report(name: string, runs: number, ms: number): void {
  if (REPORT) console.log(`FUZZ_STATS ${JSON.stringify({ target: name, runs, ms })}`);
}

function checkTime(t0: number): void {
  const ms = performance.now() - t0;
  if (ms > FUZZ_HANG_MS) throw new Error(`one input took ${ms.toFixed(0)} ms (hang budget)`);
}

/** Runs a synchronous property over `arb`; `check` throws to fail. */
export function fuzz<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  check: (value: T) => void,
  opts: FuzzOptions = {},
): void {
  const runs = runsFor(opts);
  const t0 = performance.now();
  try {
    fc.assert(
      fc.property(arb, (v) => {
        const t = performance.now();
        check(v);
        checkTime(t);
      }),
      { seed: FUZZ_SEED, numRuns: runs },
    );
  } catch (e) {
    throw failure(name, runs, e);
  }
  report(name, runs, performance.now() - t0);
}

/** Runs an asynchronous property over `arb`; `check` rejects to fail. */
export async function fuzzAsync<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  check: (value: T) => Promise<void>,
  opts: FuzzOptions = {},
): Promise<void> {
  const runs = runsFor(opts);
  const t0 = performance.now();
  try {
    await fc.assert(
      fc.asyncProperty(arb, async (v) => {
        const t = performance.now();
        await check(v);
        checkTime(t);
      }),
      { seed: FUZZ_SEED, numRuns: runs },
    );
  } catch (e) {
    throw failure(name, runs, e);
  }
  report(name, runs, performance.now() - t0);
}

// deno-lint-ignore no-explicit-any
type ErrorClass = abstract new (...args: any[]) => Error;

/** What a call under test did: returned a value or threw an allowed error. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

function vet(e: unknown, allowed: readonly ErrorClass[]): Outcome<never> {
  if (allowed.some((c) => e instanceof c)) return { ok: false, error: e as Error };
  const what = e instanceof Error ? `${e.name}: ${e.message}` : `non-error ${String(e)}`;
  const names = allowed.map((c) => c.name).join(" or ");
  throw new Error(`expected a value or ${names}, got ${what}`, { cause: e });
}

/** Calls `fn`; an error of any class outside `allowed` fails the property. */
export function only<T>(allowed: readonly ErrorClass[], fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return vet(e, allowed);
  }
}

/** Async {@linkcode only}: a rejection outside `allowed` fails the property. */
export async function onlyAsync<T>(
  allowed: readonly ErrorClass[],
  fn: () => Promise<T>,
): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return vet(e, allowed);
  }
}

/** Byte values that steer a CBOR decoder into its edge cases (heads, lengths, simple values). */
const INTERESTING = [
  0x00,
  0x17,
  0x18,
  0x19,
  0x1a,
  0x1b,
  0x1f,
  0x20,
  0x3b,
  0x40,
  0x58,
  0x5b,
  0x5f,
  0x60,
  0x78,
  0x7b,
  0x7f,
  0x80,
  0x98,
  0x9b,
  0x9f,
  0xa0,
  0xb8,
  0xbb,
  0xbf,
  0xc0,
  0xd8,
  0xf4,
  0xf5,
  0xf6,
  0xf7,
  0xf8,
  0xf9,
  0xfb,
  0xff,
];

/** A byte, biased towards {@linkcode INTERESTING} values. */
export const byte: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 255 }) },
  { weight: 1, arbitrary: fc.constantFrom(...INTERESTING) },
);

/** Arbitrary bytes up to `maxLength`, biased towards CBOR-significant values. */
export function bytes(maxLength = 256): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength }),
    fc.array(byte, { maxLength }).map((a) => Uint8Array.from(a)),
  );
}

type Mutation =
  | { op: "set"; at: number; value: number }
  | { op: "flip"; at: number; bit: number }
  | { op: "insert"; at: number; data: number[] }
  | { op: "delete"; at: number; length: number }
  | { op: "truncate"; at: number }
  | { op: "duplicate"; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: byte }),
  fc.record({
    op: fc.constant("flip" as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    data: fc.array(byte, { minLength: 1, maxLength: 9 }),
  }),
  fc.record({
    op: fc.constant("delete" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 40 }),
  }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    op: fc.constant("duplicate" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 40 }),
  }),
);

function applyMutation(data: number[], m: Mutation): number[] {
  const at = data.length ? m.at % (data.length + 1) : 0;
  const out = data.slice();
  switch (m.op) {
    case "set":
      if (at < out.length) out[at] = m.value;
      break;
    case "flip":
      if (at < out.length) out[at] ^= 1 << m.bit;
      break;
    case "insert":
      out.splice(at, 0, ...m.data);
      break;
    case "delete":
      out.splice(at, m.length);
      break;
    case "truncate":
      out.length = at;
      break;
    case "duplicate":
      out.splice(at, 0, ...data.slice(at, at + m.length));
      break;
  }
  return out;
}

/** A valid message from `corpus` with 1–8 random mutations (byte edits, splices, cuts). */
export function mutated(corpus: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.tuple(
    fc.constantFrom(...corpus),
    fc.array(mutation, { minLength: 1, maxLength: 8 }),
  ).map(([seed, ms]) => Uint8Array.from(ms.reduce(applyMutation, Array.from(seed))));
}

/** Lower-case hex, for assertion messages. */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** A CBOR data item (the types src/cbor.ts decodes), nested at most a few levels. */
export const cborValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.integer({ min: -300, max: 70000 }),
    fc.constantFrom(0, 1, -1, 255, 256, 1024, 1025, 2 ** 32, -(2 ** 53) + 1, 2 ** 53 - 1),
    fc.string({ maxLength: 12, unit: "grapheme" }),
    fc.constantFrom("public-key", "packed", "none", "id", "name", "type", "FIDO_2_1"),
    fc.boolean(),
    fc.uint8Array({ maxLength: 80 }),
    fc.constantFrom(32, 64, 65).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
  ),
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    tie("leaf"),
    fc.array(tie("node"), { maxLength: 4 }),
    fc.array(
      fc.tuple(
        fc.oneof(fc.integer({ min: -3, max: 16 }), fc.string({ maxLength: 8 })),
        tie("node"),
      ),
      { maxLength: 4 },
    )
      .map((es) => new Map(es)),
  ),
})).node;

/**
 * `base` (a CBOR map) with some members replaced by arbitrary items or removed: responses that
 * are well-formed CBOR but lie about one field, which byte mutations rarely produce.
 */
export function edited(base: Uint8Array, keys: readonly unknown[]): fc.Arbitrary<Uint8Array> {
  const map = decode(base) as Map<unknown, unknown>;
  return fc.array(
    fc.tuple(fc.constantFrom(...keys), fc.option(cborValue, { nil: undefined, freq: 4 })),
    { minLength: 1, maxLength: 3 },
  ).map((edits) => {
    const m = new Map(map);
    for (const [k, v] of edits) v === undefined ? m.delete(k) : m.set(k, v);
    return encode(m);
  });
}
