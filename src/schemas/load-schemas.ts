import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { schemasPath } from '../paths.js'
import type { AvroType } from './generate-types.js'

/** Reads every .avsc file; the file name (without extension) is the record name. */
export async function loadSchemas(path: string = schemasPath): Promise<{ name: string; schema: AvroType }[]> {
  const files = (await readdir(path)).filter((f) => f.endsWith('.avsc')).sort()
  return Promise.all(
    files.map(async (f) => ({
      name: f.slice(0, -'.avsc'.length),
      schema: JSON.parse(await readFile(join(path, f), 'utf8')) as AvroType,
    })),
  )
}
