import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateTypes } from '../../src/schemas/generate-types.js'
import { loadSchemas } from '../../src/schemas/load-schemas.js'
import { projectRoot } from '../../src/paths.js'

t.test('the TypeScript record types match schemas/*.avsc (run npm run gen:types after a change)', async (t) => {
  const expected = generateTypes(await loadSchemas())
  const actual = await readFile(join(projectRoot, 'src/schemas/records.generated.ts'), 'utf8')
  t.equal(actual, expected)
})

t.test('nullable unions, bytes and longs map to the types avsc produces', async (t) => {
  const src = generateTypes([
    {
      name: 'X',
      schema: {
        type: 'record',
        name: 'X',
        fields: [
          { name: 'a', type: ['null', 'string'] },
          { name: 'b', type: 'bytes' },
          { name: 'c', type: 'long' },
          { name: 'd', type: { type: 'map', values: 'string' } },
        ],
      },
    },
  ])
  t.match(src, /a: null \| string\n\s+b: Buffer\n\s+c: number\n\s+d: Record<string, string>/)
})
