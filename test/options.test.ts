import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ERR_INVALID_OPTION, InvalidOptionError } from '../src/index.js'
import { resolveOptions } from '../src/options.js'

describe('resolveOptions', () => {
  test('defaults: host 127.0.0.1 (port 80), msgpack, date key "date" as double, frozen', () => {
    const options = resolveOptions({ port: 80 })
    assert.equal(options.url, 'ws://127.0.0.1/')
    assert.equal(resolveOptions({ host: 'logs.local' }).url, 'ws://logs.local/')
    assert.equal(options.format, 'msgpack')
    assert.equal(options.jsonDateKey, 'date')
    assert.equal(options.jsonDateFormat, 'double')
    assert.equal(options.maxMessageBytes, 1024 * 1024)
    assert.equal(options.delivery, 'at-least-once')
    assert.equal(options.tls.rejectUnauthorized, true)
    assert.equal(options.quiet, false)
    assert.ok(Object.isFrozen(options))
    assert.throws(() => { (options as { format: string }).format = 'json' }, TypeError)
  })

  test('an explicit undefined keeps the default', () => {
    assert.equal(resolveOptions({ host: '127.0.0.1', port: undefined, format: undefined }).url, 'ws://127.0.0.1/')
  })

  test('host, port and uri build the URL; a missing leading slash is added; tls switches to wss and 443', () => {
    assert.equal(resolveOptions({ host: 'logs.local', port: 9000, uri: 'some/path?token=abc' }).url, 'ws://logs.local:9000/some/path?token=abc')
    assert.equal(resolveOptions({ host: 'logs.local', tls: true }).url, 'wss://logs.local/')
    assert.equal(resolveOptions({ host: '::1', port: '8080' }).url, 'ws://[::1]:8080/')
  })

  test('url accepts ws://, wss:// and Fluent Bit websocket://', () => {
    assert.equal(resolveOptions({ url: 'websocket://127.0.0.1:38080/some/path' }).url, 'ws://127.0.0.1:38080/some/path')
    assert.equal(resolveOptions({ url: 'wss://example.com/x' }).url, 'wss://example.com/x')
  })

  test('endpoint hides userinfo and query', () => {
    const options = resolveOptions({ url: 'ws://user:s3cret@example.com:81/in?token=t0ken' })
    assert.equal(options.endpoint, 'ws://example.com:81/in')
  })

  test('a Fluent Bit [OUTPUT] section pasted as an object, in any letter case', () => {
    const options = resolveOptions({
      Name: 'websocket',
      Match: '*',
      Host: '10.0.0.5',
      Port: '38080',
      URI: '/ws/ingest',
      Format: 'JSON_LINES',
      Json_Date_Key: '@timestamp',
      json_date_format: 'ISO8601',
      Header: ['X-Key value', 'X-Spaces a b c'],
      'net.connect_timeout': '3'
    })
    assert.equal(options.url, 'ws://10.0.0.5:38080/ws/ingest')
    assert.equal(options.format, 'json_lines')
    assert.equal(options.jsonDateKey, '@timestamp')
    assert.equal(options.jsonDateFormat, 'iso8601')
    assert.deepEqual(options.headers, { 'X-Key': 'value', 'X-Spaces': 'a b c' })
    assert.equal(options.connectTimeout, 3000)
    assert.deepEqual(options.unknownKeys, [])
  })

  test('epoch_millis and epoch_milliseconds are aliases of epoch_ms', () => {
    assert.equal(resolveOptions({ port: 1, jsonDateFormat: 'epoch_millis' as 'epoch_ms' }).jsonDateFormat, 'epoch_ms')
    assert.equal(resolveOptions({ port: 1, json_date_format: 'epoch_milliseconds' }).jsonDateFormat, 'epoch_ms')
  })

  test('json_date_key false, "false" or "off" turns the date off', () => {
    for (const value of [false, 'false', 'off', 'Off']) {
      assert.equal(resolveOptions({ port: 1, jsonDateKey: value as string }).jsonDateKey, false)
    }
  })

  test('subprotocols: a name, a list, an array, or a Sec-WebSocket-Protocol header; curl\'s `Name: value` headers too', () => {
    assert.deepEqual(resolveOptions({ port: 1 }).protocols, [])
    assert.deepEqual(resolveOptions({ port: 1, protocols: 'logs.v1' }).protocols, ['logs.v1'])
    assert.deepEqual(resolveOptions({ port: 1, protocols: 'a, b' }).protocols, ['a', 'b'])
    assert.deepEqual(resolveOptions({ port: 1, protocols: ['a', 'b'] }).protocols, ['a', 'b'])
    const viaHeader = resolveOptions({ port: 1, headers: { 'sec-websocket-protocol': 'logs.v1', 'X-A': '1' } })
    assert.deepEqual(viaHeader.protocols, ['logs.v1'])
    assert.deepEqual(viaHeader.headers, { 'X-A': '1' })
    assert.deepEqual(resolveOptions({ port: 1, headers: ['X-Api-Key:abc', 'Authorization: Bearer x y', 'X-Plain value'] }).headers,
      { 'X-Api-Key': 'abc', Authorization: 'Bearer x y', 'X-Plain': 'value' })
  })

  test('headers as an object keep their order', () => {
    assert.deepEqual(Object.keys(resolveOptions({ port: 1, headers: { B: '1', A: '2' } }).headers), ['B', 'A'])
  })

  test('unknown keys are reported, not thrown, with the option they may be a misspelling of', () => {
    assert.deepEqual(resolveOptions({ port: 1, colour: 'blue', fromat: 'json', closeTimout: 5 } as object).unknownKeys,
      ['`colour`', '`fromat` (did you mean `format`?)', '`closeTimout` (did you mean `closeTimeout`?)'])
  })

  test('no endpoint at all is an error, naming a likely misspelling of url', () => {
    assert.throws(() => resolveOptions({}), { code: ERR_INVALID_OPTION, message: /expected `url` to be given \(or `host` and `port`\).*no endpoint was given/ })
    assert.throws(() => resolveOptions({ urll: 'ws://127.0.0.1:1/', format: 'json' } as object), { message: /unknown option\(s\) `urll` \(did you mean `url`\?\)/ })
    assert.throws(() => resolveOptions({ uri: '/x' }), { message: /expected `url` to be given/ })
  })

  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    ['port of the wrong type', { port: true }, /`port` to be an integer 1-65535, got `true` \(boolean\)/],
    ['port not a number', { port: '80a' }, /`port` to be an integer 1-65535, got `"80a"` \(string\)/],
    ['port out of range', { port: 70000 }, /`port` to be an integer 1-65535, got `70000` \(number\)/],
    ['Fluent Bit Port out of range', { Port: 0 }, /`Port` to be an integer 1-65535/],
    ['unknown format', { format: 'xml' }, /`format` to be one of `msgpack`, `json`, `json_stream`, `json_lines`, `gelf`, got `"xml"`/],
    ['Fluent Bit otlp_json format', { Format: 'otlp_json' }, /`Format` to be one of/],
    ['unknown date format', { jsonDateFormat: 'rfc3339' }, /`jsonDateFormat` to be one of `double`, .*got `"rfc3339"`/],
    ['date key empty', { jsonDateKey: '' }, /`jsonDateKey` to be a non-empty string or `false`/],
    ['bad URL scheme', { url: 'http://example.com/' }, /`url` to be a ws:\/\/, wss:\/\/ or websocket:\/\/ URL string, got `"http:\/\/…"`/],
    ['URL not a URL', { url: 'not a url' }, /`url` to be a ws:\/\//],
    ['URL with host as well', { url: 'ws://a/', host: 'b' }, /`host` to be absent when `url` is given/],
    ['host with a slash', { host: 'a/b' }, /`host` to be a host name or IP address/],
    ['host with a port', { host: 'example.com:8080' }, /`host` to be a host name or IP address, got `"example.com:8080"` \(string\); the port goes in `port`/],
    ['url without its scheme', { url: 'localhost:8080' }, /`url` to be a ws:\/\/, wss:\/\/ or websocket:\/\/ URL string, got `"localhost:8080"` \(string\); the scheme is missing: `ws:\/\/localhost:8080`/],
    ['url without its scheme nor credentials shown', { url: 'user:pa55@logs.example.com/x?token=t0k' }, /got `"…@logs.example.com\/x"`.*the scheme is missing/],
    ['two spellings of one option', { host: 'a', Host: 'b' }, /`Host` to be absent, since `host` sets the same option/],
    ['header without a value', { headers: ['X-Key'] }, /`headers` to be `"Name value"` strings/],
    ['header name with a space', { headers: { 'X Key': 'v' } }, /`headers` to be HTTP header names/],
    ['header value with a newline', { headers: { 'X-Key': 'a\r\nb' } }, /`headers.X-Key` to be a string without CR, LF or NUL/],
    ['a header value Node refuses (€)', { headers: { Authorization: 'Bearer abc€' } }, /`headers.Authorization` to be a header value of visible ASCII/],
    ['a header value with a control character', { headers: ['X-Key val\u0001ue'] }, /`headers.X-Key` to be a header value/],
    ['a header the handshake sets', { headers: { 'Sec-WebSocket-Key': 'abc' } }, /`headers.Sec-WebSocket-Key` to be absent \(the WebSocket handshake sets it\)/],
    ['a header given twice', { headers: { 'X-Key': 'a', 'x-key': 'b' } }, /`headers.x-key` to be given once/],
    ['a subprotocol that is not a token', { protocols: 'logs v1' }, /`protocols` to be subprotocol names/],
    ['subprotocols given twice', { protocols: ['a', 'a'] }, /`protocols` to be subprotocol names/],
    ['protocols and a Sec-WebSocket-Protocol header', { protocols: 'a', headers: { 'Sec-WebSocket-Protocol': 'b' } }, /`protocols` to be absent, since a `Sec-WebSocket-Protocol` header/],
    ['maxMessageBytes too small', { maxMessageBytes: 10 }, /`maxMessageBytes` to be an integer 64-/],
    ['maxQueueBytes below maxMessageBytes', { maxMessageBytes: 4096, maxQueueBytes: 2048 }, /`maxQueueBytes` to be at least `maxMessageBytes` \(4096\)/],
    ['maxQueueBytes beyond what the queue\'s 32-bit offsets hold', { maxQueueBytes: 2 ** 32 }, /`maxQueueBytes` to be an integer 1024-2146435071, got `4294967296`/],
    ['overflow policy unknown', { overflow: 'drop_all' }, /`overflow` to be one of `drop_oldest`, `drop_newest`/],
    ['delivery unknown', { delivery: 'exactly-once' }, /`delivery` to be one of `at-least-once`, `at-most-once`/],
    ['negative timeout', { closeTimeout: -1 }, /`closeTimeout` to be an integer 0-600000/],
    ['fractional interval', { pingInterval: 1.5 }, /`pingInterval` to be an integer/],
    ['maxReconnectDelay below reconnectDelay', { reconnectDelay: 500, maxReconnectDelay: 100 }, /`maxReconnectDelay` to be at least `reconnectDelay` \(500\)/],
    ['tls not a boolean', { tls: 'maybe' }, /`tls` to be a boolean \(or "on"\/"off"\)/],
    ['rejectUnauthorized not a boolean', { rejectUnauthorized: 1 }, /`rejectUnauthorized` to be a boolean/],
    ['a CA with a ws:// URL', { url: 'ws://logs.example.com/', ca: 'test/fixtures/tls/ca.pem' }, /`ca` to be absent with a ws:\/\/ endpoint, which is not encrypted .*got a value that is not shown; use a wss:\/\/ URL, or `tls: true`/],
    ['a client certificate with host and port but no tls', { host: 'logs', port: 8080, cert: 'test/fixtures/tls/client.pem', key: 'test/fixtures/tls/client.key' }, /`cert` to be absent with a ws:\/\/ endpoint/],
    ['options not an object', 'ws://x' as unknown as Record<string, unknown>, /`options` to be an object/]
  ]
  for (const [name, options, message] of invalid) {
    test(`throws a clear error for ${name}`, () => {
      // An endpoint, unless the case is about one.
      const given = typeof options !== 'object' || ['url', 'host', 'port', 'Port', 'Host'].some((key) => key in options) ? options : { port: 1, ...options }
      assert.throws(() => resolveOptions(given), (error: InvalidOptionError) => {
        assert.ok(error instanceof InvalidOptionError)
        assert.ok(error instanceof TypeError)
        assert.equal(error.code, ERR_INVALID_OPTION)
        assert.match(error.message, /^pino-websocket: expected /)
        assert.match(error.message, message)
        return true
      })
    })
  }

  test('secrets never appear in option errors', () => {
    const secrets: Array<[Record<string, unknown>, string]> = [
      [{ url: 'http://user:hunter2@example.com/?token=hunter2' }, 'hunter2'],
      [{ headers: { Authorization: 'Bearer hunter2\n' } }, 'hunter2'],
      [{ headers: ['Authorization Bearer hunter2', 'Authorization', 'x'] }, 'hunter2'],
      [{ key: 42, cert: 'x' }, '42'],
      [{ headers: { Authorization: 'Bearer hunter2€' } }, 'hunter2'],
      [{ headers: ['Authorization: Bearer hunter2\u0001'] }, 'hunter2'],
      [{ headers: 'X-Api-Key:hunter2\u0007' }, 'hunter2'],
      [{ headers: { 'Sec-WebSocket-Key': 'hunter2' } }, 'hunter2'],
      [{ headers: { Authorization: 'hunter2', authorization: 'hunter2' } }, 'hunter2']
    ]
    for (const [options, secret] of secrets) {
      assert.throws(() => resolveOptions(options), (error: Error) => !error.message.includes(secret))
    }
  })
})
