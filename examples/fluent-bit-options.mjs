// The options object equivalent to the [OUTPUT] section of fluent-bit.conf. Both
// spellings work anywhere: Fluent Bit's names (`Host`, `json_date_key`,
// `net.connect_timeout` in seconds) or ours (`host`, `jsonDateKey`, `connectTimeout` in ms).
//   LOG_TOKEN=… node examples/fluent-bit-options.mjs
import pino from 'pino'

export const fluentBitNames = {
  Host: '127.0.0.1',
  Port: 8080,
  URI: '/ingest',
  Format: 'json_lines',
  Header: `Authorization Bearer ${process.env.LOG_TOKEN ?? ''}`,
  json_date_key: 'date',
  json_date_format: 'iso8601',
  'net.connect_timeout': 5
}

export const ourNames = {
  url: 'ws://127.0.0.1:8080/ingest',
  format: 'json_lines',
  headers: { Authorization: `Bearer ${process.env.LOG_TOKEN ?? ''}` },
  jsonDateKey: 'date',
  jsonDateFormat: 'iso8601',
  connectTimeout: 5000
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const logger = pino({ transport: { target: 'pino-websocket', options: fluentBitNames } })
  logger.info('sent with a Fluent Bit configuration')
}
