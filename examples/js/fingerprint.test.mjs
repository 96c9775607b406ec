// The fingerprint test vectors of docs/wire-format.md, computed from
// apache-arrow schemas (the same ones as transports/natsjs's
// TestWireFormatFingerprintVectors): run with `npm test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  Schema, Field, Int8, Int16, Int32, Int64, Uint8, Uint64, Float32, Float64, Utf8, LargeUtf8, Binary, Bool,
  DateDay, DateMillisecond, TimestampMillisecond, TimestampMicrosecond, TimestampNanosecond, Decimal,
  FixedSizeBinary, Duration, TimeUnit, List, Struct, Dictionary,
} from 'apache-arrow';
import { canonicalSchema, fingerprint } from './fingerprint.mjs';

const f = (name, type, nullable = false) => new Field(name, type, nullable);

const vectors = [
  new Schema([]),
  new Schema([f('id', new Int64()), f('price', new Float64(), true), f('name', new Utf8(), true)]),
  new Schema([f('date', new TimestampMicrosecond(), true), f('delay', new Int64(), true), f('distance', new Int64(), true),
    f('origin', new LargeUtf8(), true), f('destination', new LargeUtf8(), true)]),
  new Schema([f('b', new Bool()), f('i8', new Int8()), f('i16', new Int16()), f('i32', new Int32()), f('u8', new Uint8()),
    f('u64', new Uint64()), f('f32', new Float32()), f('bin', new Binary()), f('d32', new DateDay()), f('d64', new DateMillisecond()),
    f('ts_ms_utc', new TimestampMillisecond('UTC')), f('ts_ns', new TimestampNanosecond()), f('dec', new Decimal(2, 10, 128)),
    f('fsb', new FixedSizeBinary(16)), f('dur', new Duration(TimeUnit.MILLISECOND))]),
  new Schema([f('tags', new List(f('item', new Utf8(), true)), true),
    f('pt', new Struct([f('x', new Float64()), f('y', new Float64(), true)])),
    f('city', new Dictionary(new Utf8(), new Int32()), true), f('say "hi"\tß', new Utf8())]),
];

const doc = readFileSync(new URL('../../docs/wire-format.md', import.meta.url), 'utf8').split('\n');
const docCanonical = doc.filter((l) => l.startsWith('canonical: ')).map((l) => l.slice('canonical: '.length));
const docFingerprint = doc.filter((l) => l.startsWith('fingerprint: ')).map((l) => l.slice('fingerprint: '.length));

test('docs/wire-format.md lists one vector per schema', () => {
  assert.equal(docCanonical.length, vectors.length);
  assert.equal(docFingerprint.length, vectors.length);
});

vectors.forEach((schema, i) => {
  test(`vector ${i + 1}`, () => {
    assert.equal(canonicalSchema(schema), docCanonical[i]);
    assert.equal(fingerprint(schema), docFingerprint[i]);
  });
});
