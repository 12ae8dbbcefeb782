/**
 * The least USB traffic a whole large-blob array read or write can take, computed from the
 * spec alone (CTAP 2.3 §6.10 and §11.2.4), not from our client: the wire-time benchmark
 * (bench/wire_time.ts) divides by it and tests/wire_time.test.ts asserts the client meets it.
 *
 * - Fragments are maxFragmentLength = maxMsgSize − 64 bytes (§6.10: "the platform MUST NOT
 *   request more than maxFragmentLength"), the largest the spec allows.
 * - A read asks for maxFragmentLength at offsets 0, F, 2F… and stops at the first fragment
 *   shorter than F (the spec gives no other end-of-array signal), so an array of L bytes takes
 *   ⌊L / F⌋ + 1 round trips; a write sends ⌈L / F⌉ fragments, `length` only with the first,
 *   `pinUvAuthParam` and `pinUvAuthProtocol` with each when a token authorizes it.
 * - Request and response sizes are the command byte (or status byte) plus the canonical CBOR
 *   of exactly the members the spec requires, nothing optional.
 * - CTAPHID moves a message of n bytes in one init report (reportSize − 7 bytes) and
 *   continuation reports of reportSize − 5 bytes.
 * - On a full-speed interrupt pipe each report takes one frame, and a round trip cannot
 *   overlap the next (a request starts after the previous response has been read): the wire
 *   time is one frame per report.
 * @module
 */
import type { CborValue } from "../../src/cbor.ts";
import { serializeBlobArray } from "../../src/ctap2/blob.ts";

/** One CTAP round trip: request and response lengths in bytes (command/status byte included). */
export interface RoundTrip {
  readonly request: number;
  readonly response: number;
}

/** Reports out, reports in and frames (their sum) of a list of round trips. */
export interface WireCount {
  readonly roundTrips: number;
  readonly reportsOut: number;
  readonly reportsIn: number;
  readonly frames: number;
}

/** Bytes of a CBOR head for an unsigned integer or a length `n` (major types 0, 2, 4, 5). */
function head(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

/** Bytes of an unsigned integer map key or value. */
const uint = head;
/** Bytes of a byte string of `n` bytes. */
const bstr = (n: number) => head(n) + n;

/** CTAPHID reports that carry a message of `n` bytes (at least one, the init report). */
export function reportsFor(n: number, reportSize = 64): number {
  const first = reportSize - 7;
  return n <= first ? 1 : 1 + Math.ceil((n - first) / (reportSize - 5));
}

/** The round trips of reading a serialized array of `arrayLength` bytes whole. */
export function readRoundTrips(arrayLength: number, maxMsgSize: number): RoundTrip[] {
  const f = maxMsgSize - 64;
  const trips: RoundTrip[] = [];
  for (let offset = 0;; offset += f) {
    const got = Math.max(0, Math.min(f, arrayLength - offset));
    // 0x0C ‖ {1: get, 3: offset}  →  0x00 ‖ {1: config}
    trips.push({
      request: 1 + 1 + uint(1) + uint(f) + uint(3) + uint(offset),
      response: 1 + 1 + uint(1) + bstr(got),
    });
    if (got < f) return trips;
  }
}

/**
 * The round trips of writing a serialized array of `arrayLength` bytes whole; `authParam` is
 * the pinUvAuthParam length when a token authorizes the write (16 for PIN/UV protocol 1, 32
 * for protocol 2).
 */
export function writeRoundTrips(
  arrayLength: number,
  maxMsgSize: number,
  authParam?: 16 | 32,
): RoundTrip[] {
  const f = maxMsgSize - 64;
  const trips: RoundTrip[] = [];
  for (let offset = 0; offset < arrayLength; offset += f) {
    const n = Math.min(f, arrayLength - offset);
    // 0x0C ‖ {2: set, 3: offset, [4: length], [5: pinUvAuthParam, 6: pinUvAuthProtocol]}
    let members = 2;
    let body = uint(2) + bstr(n) + uint(3) + uint(offset);
    if (offset === 0) {
      members++;
      body += uint(4) + uint(arrayLength);
    }
    if (authParam) {
      members += 2;
      body += uint(5) + bstr(authParam) + uint(6) + uint(authParam === 32 ? 2 : 1);
    }
    trips.push({ request: 1 + head(members) + body, response: 1 });
  }
  return trips;
}

/** Reports and frames the round trips take on a pipe with `reportSize`-byte reports. */
export function wireCount(trips: readonly RoundTrip[], reportSize = 64): WireCount {
  let reportsOut = 0;
  let reportsIn = 0;
  for (const t of trips) {
    reportsOut += reportsFor(t.request, reportSize);
    reportsIn += reportsFor(t.response, reportSize);
  }
  return { roundTrips: trips.length, reportsOut, reportsIn, frames: reportsOut + reportsIn };
}

/** A large-blob array (one entry shaped like an encrypted blob) serializing to `size` bytes. */
export function arrayOfSize(size: number): CborValue[] {
  for (let n = size - 40; n < size; n++) {
    const entry = new Map<CborValue, CborValue>([
      [1, new Uint8Array(n).map((_, i) => (i * 7 + 3) & 0xff)],
      [2, new Uint8Array(12).fill(9)],
      [3, n * 2],
    ]);
    if (serializeBlobArray([entry]).length === size) return [entry];
  }
  throw new RangeError(`No one-entry large-blob array serializes to ${size} bytes`);
}
