/**
 * One `bench(name, fn)` for both runtimes. Under `deno bench` it registers a `Deno.bench`;
 * elsewhere (Bun has no bench runner) it collects the cases and, once the file has loaded,
 * times each one in a loop and prints a table, or `BENCH_RESULT {json}` lines when
 * BENCH_JSON=1 (what scripts/bench.mjs reads).
 *
 * The loop: warm up for BENCH_WARMUP_MS (default 100), then run batches sized to take about
 * 10 ms each until BENCH_MS (default 500) have passed; the reported time per op is the mean over
 * all measured batches, p75 the 75th percentile of the batch means.
 * @module
 */
import process from "node:process";

/** Options of one benchmark case. */
export interface BenchOptions {
  /** Cases of a group are compared with each other. */
  readonly group?: string;
  /** The reference case of its group. */
  readonly baseline?: boolean;
}

/** One measured case, as printed with BENCH_JSON=1. */
export interface BenchResult {
  readonly name: string;
  readonly group?: string;
  readonly baseline?: boolean;
  /** Mean nanoseconds per call. */
  readonly avgNs: number;
  /** 75th percentile of the batch means, in nanoseconds. */
  readonly p75Ns: number;
  /** Calls measured (warm-up excluded). */
  readonly n: number;
}

type Fn = () => unknown;
interface Case extends BenchOptions {
  readonly name: string;
  readonly fn: Fn;
}

const deno = (globalThis as { Deno?: typeof Deno }).Deno;
const cases: Case[] = [];
const endHooks: Array<() => unknown> = [];
let scheduled = false;

/** Registers a benchmark case (`fn` may be async). */
export function bench(name: string, fn: Fn, opts: BenchOptions = {}): void {
  if (deno?.bench) {
    deno.bench({ name, group: opts.group, baseline: opts.baseline, fn: fn as () => void });
    return;
  }
  cases.push({ name, fn, ...opts });
  if (!scheduled) {
    scheduled = true;
    // Let the rest of the file register its cases first.
    setTimeout(() => void runAll(), 0);
  }
}

/**
 * Releases what a file's cases share (daemons, sockets) after its last case, so the process
 * can exit. Under `deno bench` the runner exits by itself and the hook does not run.
 */
export function afterBenches(fn: () => unknown): void {
  if (!deno?.bench) endHooks.push(fn);
}

function envMs(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

async function time(fn: Fn, iterations: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    const r = fn();
    if (r instanceof Promise) await r;
  }
  return performance.now() - t0;
}

/** Times one case in batches (see the module comment). */
export async function measure(fn: Fn): Promise<{ avgNs: number; p75Ns: number; n: number }> {
  const warmupMs = envMs("BENCH_WARMUP_MS", 100);
  const budgetMs = envMs("BENCH_MS", 500);
  let batch = 1;
  const w0 = performance.now();
  while (performance.now() - w0 < warmupMs) {
    const ms = await time(fn, batch);
    if (ms < 10) batch = Math.min(batch * 2, 1 << 24);
  }
  const means: number[] = [];
  let totalMs = 0;
  let n = 0;
  while (totalMs < budgetMs || means.length < 5) {
    const ms = await time(fn, batch);
    means.push((ms * 1e6) / batch);
    totalMs += ms;
    n += batch;
  }
  means.sort((a, b) => a - b);
  return { avgNs: (totalMs * 1e6) / n, p75Ns: means[Math.floor(means.length * 0.75)], n };
}

/** Human time per op. */
export function formatNs(ns: number): string {
  if (ns < 1e3) return `${ns.toFixed(1)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}

async function runAll(): Promise<void> {
  const json = process.env.BENCH_JSON === "1";
  const results: BenchResult[] = [];
  for (const c of cases) {
    const m = await measure(c.fn);
    const r: BenchResult = { name: c.name, group: c.group, baseline: c.baseline, ...m };
    results.push(r);
    if (json) console.log(`BENCH_RESULT ${JSON.stringify(r)}`);
  }
  if (!json) printTable(results);
  for (const f of endHooks) await f();
}

function printTable(results: BenchResult[]): void {
  const groups = new Map<string, BenchResult[]>();
  for (const r of results) {
    const g = r.group ?? "";
    groups.set(g, [...(groups.get(g) ?? []), r]);
  }
  const width = Math.max(...results.map((r) => r.name.length), 9);
  for (const [g, rs] of groups) {
    console.log(g ? `\ngroup ${g}` : "");
    const base = rs.find((r) => r.baseline) ?? rs[0];
    for (const r of rs) {
      const ratio = r === base ? "" : `  ${(r.avgNs / base.avgNs).toFixed(2)}x`;
      console.log(
        `${r.name.padEnd(width)}  ${formatNs(r.avgNs).padStart(10)}/op  ${
          Math.round(1e9 / r.avgNs).toLocaleString("en-US").padStart(12)
        } op/s${ratio}`,
      );
    }
  }
}
