// Regenerates src/schemas/records.generated.ts from schemas/*.avsc (run after `npm run build`).
import { writeFile } from 'node:fs/promises'
import { generateTypes } from '../dist/src/schemas/generate-types.js'
import { loadSchemas } from '../dist/src/schemas/load-schemas.js'

const src = generateTypes(await loadSchemas())
await writeFile(new URL('../src/schemas/records.generated.ts', import.meta.url), src)
console.log('wrote src/schemas/records.generated.ts')
