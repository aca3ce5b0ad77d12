// Fastify: its logger is pino, so the transport goes in `logger.transport`.
// The example answers one request and closes. `await app.close()` stops the
// server, not pino's worker: the records go out as the process exits, when
// pino's exit hook ends the worker and waits for it (within closeTimeout).
//   LOG_URL=ws://127.0.0.1:8080/ node examples/fastify.mjs
import Fastify from 'fastify'

const app = Fastify({
  logger: {
    level: 'info',
    transport: { target: 'pino-websocket', options: { url: process.env.LOG_URL ?? 'ws://127.0.0.1:8080/', format: 'json_lines' } }
  }
})

app.get('/hello', async (request) => {
  request.log.info({ who: 'world' }, 'saying hello')
  return { hello: 'world' }
})

const address = await app.listen({ host: '127.0.0.1', port: 0 })
const response = await fetch(`${address}/hello`)
console.log(response.status, await response.text())
await app.close()
