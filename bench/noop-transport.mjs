// A transport that does nothing with what it is given, for the transport-base
// benchmark (bench/run.mjs): built on pino-abstract-transport in its cheapest
// mode (`parse: 'lines'`, every line read and dropped), or a raw Writable that
// calls back at once, as pino-websocket's own destination is. `abstract` is the
// path of the pino-abstract-transport that the pino under test ships with.
import { Writable } from 'node:stream'
import { pathToFileURL } from 'node:url'

export default async function noop ({ abstract }) {
  if (abstract === undefined) return new Writable({ write: (chunk, encoding, callback) => callback() })
  const { default: build } = await import(pathToFileURL(abstract).href)
  return build(async (source) => {
    for await (const _line of source);
  }, { parse: 'lines' })
}
