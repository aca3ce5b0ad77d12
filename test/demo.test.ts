import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'

test('the demo exits 0 and prints records received from pino and winston', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['examples/demo.mjs'], { timeout: 30_000 })
  assert.match(stdout, /received binary \/ingest .* from pino: \{"level":30,.*"msg":"hello from pino"\}/)
  // winston's json() sorts the keys: the line is what its Console would print.
  assert.match(stdout, /received text {3}\/ingest .* from winston: \{"level":"info","message":"hello from winston"/)
  assert.match(stdout, /received 3 record\(s\) from pino and 2 from winston/)
})
