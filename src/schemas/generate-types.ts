/**
 * Turns the .avsc files into TypeScript interfaces, so producer and consumer of a topic share one
 * type derived from the one contract. A test regenerates and compares, so the two cannot drift.
 */
export interface AvroField {
  name: string
  type: AvroType
  doc?: string
}
export type AvroType =
  | string
  | AvroType[]
  | { type: 'record'; name: string; fields: AvroField[]; doc?: string }
  | { type: 'array'; items: AvroType }
  | { type: 'map'; values: AvroType }
  | { type: 'enum'; name: string; symbols: string[] }

const primitives: Record<string, string> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bytes: 'Buffer',
  string: 'string',
}

function tsType(t: AvroType): string {
  if (typeof t === 'string') {
    const p = primitives[t]
    if (p === undefined) throw new Error(`unsupported avro type ${t}`)
    return p
  }
  if (Array.isArray(t)) return t.map(tsType).join(' | ')
  switch (t.type) {
    case 'array':
      return `${tsType(t.items)}[]`
    case 'map':
      return `Record<string, ${tsType(t.values)}>`
    case 'enum':
      return t.symbols.map((s) => `'${s}'`).join(' | ')
    case 'record':
      throw new Error(`nested record ${t.name}: give it its own .avsc`)
  }
}

export function generateTypes(schemas: { name: string; schema: AvroType }[]): string {
  const out = ['// Generated from schemas/*.avsc by `npm run gen:types`. Do not edit.', '']
  for (const { schema } of [...schemas].sort((a, b) => a.name.localeCompare(b.name))) {
    if (typeof schema !== 'object' || Array.isArray(schema) || schema.type !== 'record') {
      throw new Error('each .avsc must hold one record')
    }
    if (schema.doc !== undefined) out.push(`/** ${schema.doc} */`)
    out.push(`export interface ${schema.name} {`)
    for (const f of schema.fields) {
      if (f.doc !== undefined) out.push(`  /** ${f.doc} */`)
      out.push(`  ${f.name}: ${tsType(f.type)}`)
    }
    out.push('}', '')
  }
  return out.join('\n')
}
