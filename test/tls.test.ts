import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer as createHttpsServer, type ServerOptions } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import pino from 'pino'
import winston from 'winston'
import { WebSocketServer } from 'ws'
import { WebSocketTransport } from '../src/winston.js'
import { Client } from '../src/client.js'
import { resolveOptions } from '../src/options.js'
import { waitFor } from './helpers.js'

// TLS material as people hold it: PEM text, bytes (pino clones a Buffer into a
// Uint8Array), file and directory paths, Fluent Bit's tls.* names. The
// certificates are fixtures (scripts/make-test-certificates.sh): a CA, a server
// certificate for 127.0.0.1 and logs.test, one for logs.test only, one expired in
// 2020, a client certificate, its key encrypted, and a PKCS#12 bundle.

const PASS = 'pa55phrase'
const fixtures = join(import.meta.dirname, 'fixtures', 'tls')
const file = (name: string): string => join(fixtures, name)
// A directory of CAs as Fluent Bit's tls.ca_path has it, with a file that is not one.
const cas = mkdtempSync(join(tmpdir(), 'pino-ws-cas-'))
writeFileSync(join(cas, 'ca.crt'), readFileSync(file('ca.pem')))
writeFileSync(join(cas, 'README'), 'not a certificate')

/** A wss:// server for 127.0.0.1, demanding a client certificate from our CA when `mutual`; counts records. */
async function wssServer (mutual: boolean, certificate = 'server'): Promise<{ port: number, records: () => number, close: () => void }> {
  const keyName = certificate === 'expired' ? 'server' : certificate
  const options: ServerOptions = { key: readFileSync(file(`${keyName}.key`)), cert: readFileSync(file(`${certificate}.pem`)) }
  if (mutual) Object.assign(options, { requestCert: true, rejectUnauthorized: true, ca: readFileSync(file('ca.pem')) })
  const https = createHttpsServer(options)
  const wss = new WebSocketServer({ server: https })
  let records = 0
  wss.on('connection', (socket) => socket.on('message', (data: Buffer) => { records += data.toString().trim().split('\n').length }))
  https.listen(0, '127.0.0.1')
  await once(https, 'listening')
  return { port: (https.address() as AddressInfo).port, records: () => records, close: () => { wss.close(); https.close() } }
}

/** Log `count` records through winston with these options; resolves when the transport has finished. */
async function viaWinston (options: Record<string, unknown>, count = 3): Promise<{ delivered: number }> {
  const transport = new WebSocketTransport({ wireFormat: 'json_lines', closeTimeout: 3000, quiet: true, ...options })
  const logger = winston.createLogger({ transports: [transport] })
  for (let seq = 0; seq < count; seq++) logger.info('tls', { seq })
  logger.end()
  await once(transport, 'finish')
  return transport.stats()
}

describe('TLS material', () => {
  const pem = readFileSync(file('ca.pem'), 'utf8')
  for (const [form, ca] of [
    ['PEM text', pem],
    ['a Buffer', readFileSync(file('ca.pem'))],
    ['a Uint8Array', new Uint8Array(readFileSync(file('ca.pem')))],
    ['a file path', file('ca.pem')],
    ['a directory path', cas],
    ['a list', [file('ca.pem'), pem]]
  ] as const) {
    test(`ca as ${form}: the server's certificate is verified and records arrive`, async () => {
      const server = await wssServer(false)
      const stats = await viaWinston({ url: `wss://127.0.0.1:${server.port}/`, ca })
      assert.equal(stats.delivered, 3)
      assert.equal(server.records(), 3)
      server.close()
    })
  }

  for (const [form, read] of [
    ['PEM text', (name: string) => readFileSync(file(name), 'utf8')],
    ['Buffers (cloned into Uint8Arrays)', (name: string) => readFileSync(file(name))],
    ['file paths', (name: string) => file(name)]
  ] as const) {
    test(`pino's worker, mutual TLS with ca, cert and key as ${form}`, async () => {
      const server = await wssServer(true)
      const transport = pino.transport({
        target: 'pino-websocket',
        options: { url: `wss://127.0.0.1:${server.port}/`, format: 'json_lines', ca: read('ca.pem'), cert: read('client.pem'), key: read('client.key') }
      })
      const logger = pino(transport)
      for (let seq = 0; seq < 3; seq++) logger.info({ seq })
      await waitFor(() => server.records() >= 3, 'three records over mutual TLS')
      transport.end()
      await once(transport, 'close')
      server.close()
    })
  }

  for (const [form, material] of [
    ['PEM text', { cert: readFileSync(file('client.pem'), 'utf8'), key: readFileSync(file('client.key'), 'utf8') }],
    ['Buffers', { cert: readFileSync(file('client.pem')), key: readFileSync(file('client.key')) }],
    ['an encrypted key and its passphrase', { cert: file('client.pem'), key: file('client-encrypted.key'), passphrase: PASS }],
    ['a PKCS#12 bundle', { pfx: file('client.p12'), passphrase: PASS }]
  ] as const) {
    test(`mutual TLS with ${form}`, async () => {
      const server = await wssServer(true)
      const stats = await viaWinston({ url: `wss://127.0.0.1:${server.port}/`, ca: file('ca.pem'), ...material })
      assert.equal(stats.delivered, 3)
      server.close()
    })
  }

  test('a Fluent Bit [OUTPUT] section with tls.* names, pasted as an object', async () => {
    const server = await wssServer(true)
    const stats = await viaWinston({
      Host: '127.0.0.1',
      Port: String(server.port),
      tls: 'on',
      'tls.verify': 'on',
      'tls.vhost': 'logs.test',
      'tls.ca_file': file('ca.pem'),
      'tls.crt_file': file('client.pem'),
      'tls.key_file': file('client-encrypted.key'),
      'tls.key_passwd': PASS
    })
    assert.equal(stats.delivered, 3)
    server.close()
  })

  for (const [kind, certificate, reason, fix] of [
    ['an expired certificate', 'expired', /certificate has expired/, undefined],
    ['a certificate for another host', 'named', /Hostname\/IP does not match certificate's altnames/, { servername: 'logs.test' }]
  ] as const) {
    test(`${kind} is refused by default, with a warning naming the reason${fix === undefined ? '' : ', and accepted with the right servername'}`, async () => {
      const server = await wssServer(false, certificate)
      const client = new Client(resolveOptions({ url: `wss://127.0.0.1:${server.port}/`, ca: file('ca.pem'), quiet: true, reconnectDelay: 10, maxReconnectDelay: 1000, closeTimeout: 100 }))
      const warnings: Array<{ code: string, message: string }> = []
      client.on('warn', (warning) => warnings.push(warning))
      client.write({ time: { sec: 1, nsec: 0 }, record: { a: 1 } })
      await waitFor(() => warnings.length > 0, 'the warning')
      assert.equal(warnings[0].code, 'PINO_WS_WARN_TLS_REFUSED')
      assert.match(warnings[0].message, reason)
      await client.close()
      assert.equal(client.stats().delivered, 0)
      if (fix !== undefined) {
        const stats = await viaWinston({ url: `wss://127.0.0.1:${server.port}/`, ca: file('ca.pem'), ...fix })
        assert.equal(stats.delivered, 3)
      }
      server.close()
    })
  }

  test('material that holds no certificate or key, or cannot be read, is refused at construction, naming the option, never showing the content', () => {
    const key = readFileSync(file('client.key'), 'utf8')
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ca: 'not a certificate' }, /`ca` .*cannot be read \(ENOENT\)/],
      [{ ca: key }, /`ca` to be certificates.*holds no certificate/],
      [{ ca: Buffer.from('garbage') }, /`ca` to be certificates.*holds no certificate/],
      [{ ca: file('missing.pem') }, /`ca` .*missing\.pem.*cannot be read \(ENOENT\)/],
      [{ 'tls.ca_file': join(cas, 'README') }, /`tls\.ca_file` to be certificates/],
      [{ cert: file('client.pem'), key: key.replace(/[A-Za-z]{20}/, 'x') }, /`key` to be a private key/],
      [{ cert: file('client.pem'), key: file('client-encrypted.key'), passphrase: 'wrong-pass' }, /`key` to be a private key.*passphrase is wrong/],
      [{ cert: file('server.pem'), key: file('client.key') }, /`key` to be the private key of `cert`/],
      [{ cert: file('client.pem') }, /`key` to be given with `cert`/],
      [{ pfx: file('client.p12'), passphrase: 'wrong-pass' }, /`pfx` to be a PKCS#12 bundle/],
      [{ minVersion: 'SSLv3' }, /`minVersion` to be one of `TLSv1.3`/],
      [{ ciphers: 'NO-SUCH-CIPHER' }, /`ciphers` to be an OpenSSL cipher list/]
    ]
    for (const [options, message] of cases) {
      assert.throws(() => resolveOptions({ url: 'wss://127.0.0.1:1/', ...options }), (error: Error) => {
        assert.match(error.message, message)
        for (const secret of [key.slice(40, 80), 'wrong-pass', PASS]) assert.ok(!error.message.includes(secret), `no secret in: ${error.message}`)
        return true
      }, JSON.stringify(Object.keys(options)))
    }
  })
})
