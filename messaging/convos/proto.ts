// The few protobuf shapes Convos uses, written by hand (wire types 0 varint, 1 fixed64, 2 length-delimited).

enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
}

export class ProtoWriter {
  private readonly parts: number[] = []

  private varint(value: bigint | number): void {
    let v = BigInt(value)
    if (v < 0n) v = BigInt.asUintN(64, v)
    while (v > 0x7fn) {
      this.parts.push(Number((v & 0x7fn) | 0x80n))
      v >>= 7n
    }
    this.parts.push(Number(v))
  }

  private key(field: number, wire: Wire): void {
    this.varint((field << 3) | wire)
  }

  bytes(field: number, value: Uint8Array | undefined): this {
    if (value === undefined) return this
    this.key(field, Wire.Bytes)
    this.varint(value.length)
    for (const b of value) this.parts.push(b)
    return this
  }

  string(field: number, value: string | undefined): this {
    return value === undefined ? this : this.bytes(field, new TextEncoder().encode(value))
  }

  /** proto3 scalars are omitted when they have the default value. */
  bool(field: number, value: boolean): this {
    if (!value) return this
    this.key(field, Wire.Varint)
    this.varint(1)
    return this
  }

  enumValue(field: number, value: number): this {
    if (value === 0) return this
    this.key(field, Wire.Varint)
    this.varint(value)
    return this
  }

  sfixed64(field: number, value: number | undefined): this {
    if (value === undefined) return this
    this.key(field, Wire.Fixed64)
    const buf = new DataView(new ArrayBuffer(8))
    buf.setBigInt64(0, BigInt(Math.trunc(value)), true)
    for (let i = 0; i < 8; i++) this.parts.push(buf.getUint8(i))
    return this
  }

  /** A field as read by readProto, written back unchanged (keeps fields this code does not know). */
  value(field: number, v: ProtoValue): this {
    if (v.wire === 2) return this.bytes(field, v.value)
    this.key(field, v.wire === 0 ? Wire.Varint : Wire.Fixed64)
    if (v.wire === 0) this.varint(v.value)
    else {
      const buf = new DataView(new ArrayBuffer(8))
      buf.setBigInt64(0, v.value, true)
      for (let i = 0; i < 8; i++) this.parts.push(buf.getUint8(i))
    }
    return this
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts)
  }
}

export type ProtoValue =
  | { readonly wire: 0; readonly value: bigint }
  | { readonly wire: 1; readonly value: bigint }
  | { readonly wire: 2; readonly value: Uint8Array }

/** Fields by number (repeated fields keep every occurrence). Throws on malformed input. */
export const readProto = (bytes: Uint8Array): Map<number, ProtoValue[]> => {
  const fields = new Map<number, ProtoValue[]>()
  let pos = 0
  const varint = (): bigint => {
    let result = 0n
    let shift = 0n
    for (;;) {
      if (pos >= bytes.length) throw new Error("truncated varint")
      const b = bytes[pos++]!
      result |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) return result
      shift += 7n
      if (shift > 70n) throw new Error("varint too long")
    }
  }
  while (pos < bytes.length) {
    const key = Number(varint())
    const field = key >> 3
    const wire = key & 7
    let value: ProtoValue
    if (wire === 0) value = { wire: 0, value: varint() }
    else if (wire === 1) {
      if (pos + 8 > bytes.length) throw new Error("truncated fixed64")
      value = { wire: 1, value: new DataView(bytes.buffer, bytes.byteOffset + pos, 8).getBigInt64(0, true) }
      pos += 8
    } else if (wire === 2) {
      const len = Number(varint())
      if (pos + len > bytes.length) throw new Error("truncated field")
      value = { wire: 2, value: bytes.subarray(pos, pos + len) }
      pos += len
    } else if (wire === 5) {
      pos += 4
      continue
    } else throw new Error(`unsupported wire type ${wire}`)
    if (field === 0) throw new Error("field number 0")
    const list = fields.get(field) ?? []
    list.push(value)
    fields.set(field, list)
  }
  return fields
}

const last = (fields: Map<number, ProtoValue[]>, field: number) => fields.get(field)?.at(-1)

export const protoBytes = (fields: Map<number, ProtoValue[]>, field: number): Uint8Array | undefined => {
  const v = last(fields, field)
  return v?.wire === 2 ? v.value : undefined
}
export const protoString = (fields: Map<number, ProtoValue[]>, field: number): string | undefined => {
  const b = protoBytes(fields, field)
  return b === undefined ? undefined : new TextDecoder("utf-8", { fatal: true }).decode(b)
}
export const protoInt = (fields: Map<number, ProtoValue[]>, field: number): number | undefined => {
  const v = last(fields, field)
  return v && v.wire !== 2 ? Number(v.value) : undefined
}
