import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BROADCAST_CID,
  CTAPHID,
  fragment,
  HID_ERR,
  HidError,
  maxPayload,
  Reassembler,
} from "../src/hid/framing.ts";
import { isFidoDescriptor, parseReportDescriptor } from "../src/hid/descriptor.ts";
import { FormatError, TransportError } from "../src/errors.ts";
import { fromHex, toHex } from "../src/utils.ts";

const pad = (hex: string) => hex.padEnd(128, "0");
const range = (n: number) => Uint8Array.from({ length: n }, (_, i) => i & 0xff);

describe("CTAPHID framing vectors (python-fido2 §9.2)", () => {
  it("INIT request on the broadcast channel", () => {
    const pkts = fragment(BROADCAST_CID, CTAPHID.INIT, fromHex("0102030405060708"));
    assert.equal(pkts.length, 1);
    assert.equal(toHex(pkts[0]), pad("ffffffff860008010203040506070800"));
  });

  it("150-byte CBOR request splits into 3 packets", () => {
    const pkts = fragment(0xa1b2c3d4, CTAPHID.CBOR, range(150));
    assert.deepEqual(pkts.map(toHex), [
      "a1b2c3d4900096000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223" +
      "2425262728292a2b2c2d2e2f303132333435363738",
      "a1b2c3d400393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e" +
      "5f606162636465666768696a6b6c6d6e6f70717273",
      pad("a1b2c3d4017475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495"),
    ]);
  });

  it("wink, lock and empty payloads", () => {
    assert.equal(toHex(fragment(0xa1b2c3d4, CTAPHID.WINK)[0]), pad("a1b2c3d4880000"));
    assert.equal(
      toHex(fragment(0xa1b2c3d4, CTAPHID.LOCK, new Uint8Array([10]))[0]),
      pad("a1b2c3d48400010a"),
    );
    const ping = fragment(0xa1b2c3d4, CTAPHID.PING, new Uint8Array(0));
    assert.equal(ping.length, 1);
    assert.equal(toHex(ping[0]), pad("a1b2c3d4810000"));
    assert.equal(toHex(fragment(0xa1b2c3d4, CTAPHID.CANCEL)[0]), pad("a1b2c3d4910000"));
  });

  it("reassembles the 70-byte response vector", () => {
    const r = new Reassembler(0xa1b2c3d4);
    const init = fromHex(
      "a1b2c3d490004600000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223" +
        "2425262728292a2b2c2d2e2f3031323334353637",
    );
    assert.equal(r.push(init), undefined);
    assert.equal(r.inProgress, true);
    assert.equal(r.cmd, CTAPHID.CBOR);
    const frame = r.push(fromHex(pad("a1b2c3d40038393a3b3c3d3e3f4041424344")));
    assert.ok(frame);
    assert.equal(frame.cmd, CTAPHID.CBOR);
    assert.equal(frame.cid, 0xa1b2c3d4);
    assert.deepEqual(frame.payload, Uint8Array.from([0, ...range(69)]));
    assert.equal(r.inProgress, false);
  });

  it("parses the INIT response vector", () => {
    const r = new Reassembler(BROADCAST_CID);
    const f = r.push(fromHex(pad("ffffffff8600110102030405060708a1b2c3d402050403050")));
    assert.ok(f);
    assert.equal(f.cmd, CTAPHID.INIT);
    assert.equal(toHex(f.payload), "0102030405060708a1b2c3d40205040305");
  });
});

describe("fragment / Reassembler round trips and limits", () => {
  for (const size of [0, 1, 57, 58, 116, 117, 1024, 7609]) {
    it(`round trips ${size} bytes`, () => {
      const data = range(size);
      const pkts = fragment(0x01020304, CTAPHID.CBOR, data);
      assert.equal(pkts.length, size <= 57 ? 1 : 1 + Math.ceil((size - 57) / 59));
      const r = new Reassembler(0x01020304);
      let out;
      for (const [i, p] of pkts.entries()) {
        assert.equal(p.length, 64);
        out = r.push(p);
        assert.equal(out === undefined, i < pkts.length - 1);
      }
      assert.deepEqual(out?.payload, data);
    });
  }

  it("7609 is the maximum for 64-byte reports; beyond is a FormatError", () => {
    assert.equal(maxPayload(64), 7609);
    assert.equal(fragment(1, CTAPHID.CBOR, new Uint8Array(7609)).length, 129);
    assert.equal(fragment(1, CTAPHID.CBOR, new Uint8Array(7609)).at(-1)![4], 127);
    assert.throws(() => fragment(1, CTAPHID.CBOR, new Uint8Array(7610)), FormatError);
  });

  it("other report sizes", () => {
    const pkts = fragment(7, CTAPHID.PING, range(100), 32);
    assert.equal(pkts.length, 1 + Math.ceil((100 - 25) / 27));
    const r = new Reassembler(7, 32);
    let f;
    for (const p of pkts) f = r.push(p);
    assert.deepEqual(f?.payload, range(100));
    assert.throws(() => fragment(7, CTAPHID.PING, range(1), 4), FormatError);
  });

  it("rejects bad arguments to fragment", () => {
    assert.throws(() => fragment(-1, 1), FormatError);
    assert.throws(() => fragment(0x100000000, 1), FormatError);
    assert.throws(() => fragment(1, 0x80), FormatError);
  });

  const err = (code: number) => (e: unknown) =>
    e instanceof HidError && e instanceof TransportError && e.code === code;

  it("wrong sequence number", () => {
    const pkts = fragment(5, CTAPHID.CBOR, range(200));
    const r = new Reassembler(5);
    r.push(pkts[0]);
    assert.throws(() => r.push(pkts[2]), err(HID_ERR.INVALID_SEQ));
    // Reset after the error: a fresh init packet starts over.
    assert.equal(r.inProgress, false);
    let f;
    for (const p of pkts) f = r.push(p);
    assert.deepEqual(f?.payload, range(200));
  });

  it("duplicate continuation packet", () => {
    const pkts = fragment(5, CTAPHID.CBOR, range(200));
    const r = new Reassembler(5);
    r.push(pkts[0]);
    r.push(pkts[1]);
    assert.throws(() => r.push(pkts[1]), err(HID_ERR.INVALID_SEQ));
  });

  it("continuation before init, init during reassembly", () => {
    const pkts = fragment(5, CTAPHID.CBOR, range(200));
    const r = new Reassembler(5);
    assert.throws(() => r.push(pkts[1]), err(HID_ERR.INVALID_SEQ));
    r.push(pkts[0]);
    assert.throws(() => r.push(pkts[0]), err(HID_ERR.INVALID_SEQ));
  });

  it("length errors: BCNT too large, short packets, wrong channel", () => {
    const r = new Reassembler(5);
    const big = fromHex(pad("0000000590ffff"));
    assert.throws(() => r.push(big), err(HID_ERR.INVALID_LEN));
    const just = fromHex(pad("0000000590" + (7610).toString(16).padStart(4, "0")));
    assert.throws(() => r.push(just), err(HID_ERR.INVALID_LEN));
    assert.throws(() => r.push(new Uint8Array(3)), err(HID_ERR.INVALID_LEN));
    assert.throws(() => r.push(new Uint8Array(65)), err(HID_ERR.INVALID_LEN));
    assert.throws(() => r.push(fragment(6, 1)[0]), err(HID_ERR.INVALID_CHANNEL));
  });
});

describe("report descriptor (python-fido2 §9.1)", () => {
  it("parses the canonical FIDO descriptor", () => {
    const d = fromHex(
      "06d0f10901a1010920150026ff007508954081020921150026ff00750895409102c0",
    );
    assert.deepEqual(parseReportDescriptor(d), { reportSizeIn: 64, reportSizeOut: 64 });
    assert.equal(isFidoDescriptor(d), true);
  });

  it("rejects a mouse", () => {
    const d = fromHex(
      "05010902a1010901a1000509190129051500250195057501810295017503810105010930093109381581257f" +
        "750895038106c0c0",
    );
    assert.throws(
      () => parseReportDescriptor(d),
      (e) => e instanceof FormatError && /Not a FIDO device/.test(e.message),
    );
    assert.equal(isFidoDescriptor(d), false);
  });

  it("rejects truncated and unbalanced descriptors", () => {
    assert.throws(() => parseReportDescriptor(fromHex("06d0")), FormatError);
    assert.throws(() => parseReportDescriptor(fromHex("c0")), FormatError);
    // FIDO collection without any input/output items.
    assert.throws(() => parseReportDescriptor(fromHex("06d0f10901a101c0")), FormatError);
  });

  it("handles a 4-byte usage, long items and 32-byte reports", () => {
    const d = fromHex(
      "0b0100d0f1a101fe0200aabb0920750895209102" + "0921750895208102c0",
    );
    assert.deepEqual(parseReportDescriptor(d), { reportSizeIn: 32, reportSizeOut: 32 });
  });
});
