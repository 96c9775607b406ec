// The PCS schema fingerprint (docs/wire-format.md, "Schema fingerprint")
// of an apache-arrow Schema: what a JS producer puts in Pcs-Schema.
import { createHash } from 'node:crypto';
import { Type, TimeUnit, DateUnit, UnionMode, Precision } from 'apache-arrow';

const units = { [TimeUnit.SECOND]: 's', [TimeUnit.MILLISECOND]: 'ms', [TimeUnit.MICROSECOND]: 'us', [TimeUnit.NANOSECOND]: 'ns' };

// quote is Go's strconv.Quote for the characters field names use.
function quote(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

function field(f) {
  return `${quote(f.name)} ${type(f.type)} ${f.nullable ? 'null' : 'not null'}`;
}

function intName(t) {
  return `${t.isSigned ? 'int' : 'uint'}${t.bitWidth}`;
}

function type(t) {
  switch (t.typeId) {
    case Type.Null: return 'null';
    case Type.Bool: return 'bool';
    case Type.Int: return intName(t);
    case Type.Float: return { [Precision.HALF]: 'float16', [Precision.SINGLE]: 'float32', [Precision.DOUBLE]: 'float64' }[t.precision];
    case Type.Utf8: return 'utf8';
    case Type.LargeUtf8: return 'large_utf8';
    case Type.Binary: return 'binary';
    case Type.LargeBinary: return 'large_binary';
    case Type.FixedSizeBinary: return `fixed_size_binary[${t.byteWidth}]`;
    case Type.Date: return t.unit === DateUnit.DAY ? 'date32' : 'date64';
    case Type.Timestamp: return t.timezone ? `timestamp[${units[t.unit]}, tz=${t.timezone}]` : `timestamp[${units[t.unit]}]`;
    case Type.Time: return `time${t.bitWidth}[${units[t.unit]}]`;
    case Type.Duration: return `duration[${units[t.unit]}]`;
    case Type.Decimal: return t.bitWidth === 256 ? `decimal256(${t.precision}, ${t.scale})` : `decimal(${t.precision}, ${t.scale})`;
    case Type.Struct: return `struct{${t.children.map(field).join(', ')}}`;
    case Type.List: return `list{${field(t.children[0])}}`;
    case Type.FixedSizeList: return `fixed_size_list[${t.listSize}]{${field(t.children[0])}}`;
    case Type.Map: {
      const [k, v] = t.children[0].type.children;
      return `map{${field(k)}, ${field(v)}}${t.keysSorted ? 'sorted' : ''}`;
    }
    case Type.Union: {
      const parts = t.children.map((c, i) => `${t.typeIds[i]}:${field(c)}`);
      return `${t.mode === UnionMode.Dense ? 'dense' : 'sparse'}_union{${parts.join(', ')}}`;
    }
    case Type.Dictionary: return `dictionary<${intName(t.indices)}, ${type(t.dictionary)}${t.isOrdered ? ', ordered' : ''}>`;
  }
  throw new Error(`pcs fingerprint: unsupported Arrow type ${t}`);
}

/** canonicalSchema renders schema in the canonical form of docs/wire-format.md. */
export function canonicalSchema(schema) {
  return `schema{${schema.fields.map(field).join(', ')}}`;
}

/** fingerprint is the Pcs-Schema value of schema: hex of the first 16 bytes of SHA-256(canonical form). */
export function fingerprint(schema) {
  return createHash('sha256').update(canonicalSchema(schema), 'utf8').digest('hex').slice(0, 32);
}
