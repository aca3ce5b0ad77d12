// winston with a format pipeline: what goes on the wire is what the pipeline made,
// so the replacer's redaction holds there too; colorize() on the Console only
// would be fine as well, no colour code ever reaches the wire. handleExceptions
// sends an uncaught exception's record (with its stack) before the process exits:
// run with --crash to see it.
//   LOG_URL=ws://127.0.0.1:8080/ node examples/winston.mjs [--crash]
import winston from 'winston'
import { WebSocketTransport } from 'pino-websocket/winston'

const redact = (key, value) => (key === 'password' || key === 'authorization') ? '[REDACTED]' : value

const transport = new WebSocketTransport({
  url: process.env.LOG_URL ?? 'ws://127.0.0.1:8080/',
  wireFormat: 'json_lines',
  handleExceptions: true,
  handleRejections: true
})
transport.on('drop', ({ reason, count }) => console.error(`dropped ${count} record(s): ${reason}`))

const logger = winston.createLogger({
  level: 'info',
  format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json({ replacer: redact })),
  transports: [transport, new winston.transports.Console({ format: winston.format.combine(winston.format.colorize(), winston.format.simple()) })],
  exitOnError: true
})

logger.info('user logged in', { user: 'ann', password: 'hunter2' })
logger.warn('disk almost full', { free: '2%' })

if (process.argv.includes('--crash')) {
  setTimeout(() => { throw new Error('something broke') }, 10)
} else {
  // 'finish' comes once the server has confirmed every record.
  transport.on('finish', () => console.log('delivered', transport.stats().delivered))
  logger.end()
}
