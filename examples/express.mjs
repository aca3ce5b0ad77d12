// Express with pino-http: one logger (and one worker) for the app, a child per request.
//   LOG_URL=ws://127.0.0.1:8080/ node examples/express.mjs
import { once } from 'node:events'
import express from 'express'
import pino from 'pino'
import { pinoHttp } from 'pino-http'

const transport = pino.transport({ target: 'pino-websocket', options: { url: process.env.LOG_URL ?? 'ws://127.0.0.1:8080/', format: 'json_lines' } })
const logger = pino(transport)

const app = express()
app.use(pinoHttp({ logger }))
app.get('/hello', (request, response) => {
  request.log.info({ who: 'world' }, 'saying hello')
  response.json({ hello: 'world' })
})

const server = app.listen(0, '127.0.0.1')
await once(server, 'listening')
const response = await fetch(`http://127.0.0.1:${server.address().port}/hello`)
console.log(response.status, await response.text())
server.close()
// Ending the stream ends pino's worker once every record is delivered (or closeTimeout passed).
transport.end()
