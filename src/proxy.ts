import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'

/** Error code of a proxy that refused the tunnel (an HTTP answer to CONNECT other than 2xx). */
export const PROXY_REFUSED = 'PINO_WS_PROXY_REFUSED'

/** A proxy, resolved from the options: where it is and the header that authenticates us to it. */
export interface ProxyTarget {
  /** `http://host:port/` or `https://host:port/`, without credentials: safe to show. */
  readonly endpoint: string
  readonly secure: boolean
  readonly host: string
  readonly port: number
  /** `Basic …` when the proxy URL holds credentials. */
  readonly authorization: string | undefined
}

/** The proxy a `proxy` option names, for a server URL; `env` reads HTTPS_PROXY / HTTP_PROXY and NO_PROXY. */
export function proxyFor (proxy: string | undefined, server: URL, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  if (proxy === undefined) return undefined
  if (proxy !== 'env') return new URL(proxy)
  const variable = server.protocol === 'wss:' ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy)
  if (variable === undefined || variable === '' || bypassed(server, env.NO_PROXY ?? env.no_proxy ?? '')) return undefined
  return new URL(variable.includes('://') ? variable : `http://${variable}`)
}

/** Whether NO_PROXY (comma- or space-separated host names, `.suffix`, `*.suffix`, `host:port`, `*`) exempts the server. */
function bypassed (server: URL, noProxy: string): boolean {
  const host = server.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  const port = server.port === '' ? (server.protocol === 'wss:' ? '443' : '80') : server.port
  return noProxy.split(/[\s,]+/).filter((entry) => entry !== '').some((entry) => {
    if (entry === '*') return true
    const [name, entryPort] = entry.toLowerCase().replace(/^\*/, '').split(/:(?=\d+$)/)
    if (entryPort !== undefined && entryPort !== port) return false
    const bare = name.replace(/^\./, '')
    return host === bare || host.endsWith(`.${bare}`)
  })
}

/** What a {@link ProxyTarget} is made of, from the proxy URL. */
export function proxyTarget (url: URL): ProxyTarget {
  const secure = url.protocol === 'https:'
  const user = decodeURIComponent(url.username)
  const password = decodeURIComponent(url.password)
  return {
    endpoint: `${url.protocol}//${url.host}/`,
    secure,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
    authorization: user === '' && password === '' ? undefined : `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
  }
}

/**
 * Open a tunnel to `host:port` through an HTTP proxy (CONNECT, RFC 9110 9.3.6)
 * and hand the tunnelled socket to `done` (for TLS to the server, wrap it then).
 * The socket is unref'd from the start, like every socket of ours, and the
 * whole exchange is bounded by `timeout`. A refusal (407, 403, …) fails with the
 * code {@link PROXY_REFUSED}; nothing here throws.
 */
export function openTunnel (proxy: ProxyTarget, host: string, port: number, timeout: number, done: (error: Error | null, socket?: Socket) => void): Socket {
  const socket: Socket = proxy.secure
    ? tlsConnect({ host: proxy.host, port: proxy.port, servername: proxy.host })
    : netConnect({ host: proxy.host, port: proxy.port })
  socket.unref()
  let settled = false
  const finish = (error: Error | null): void => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    socket.off('data', onData)
    if (error === null) {
      done(null, socket)
    } else {
      socket.destroy()
      done(error)
    }
  }
  const timer = setTimeout(() => finish(new Error(`the proxy ${proxy.endpoint} did not open a tunnel within ${timeout} ms`)), timeout).unref()
  const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
  socket.once(proxy.secure ? 'secureConnect' : 'connect', () => {
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n` +
      (proxy.authorization === undefined ? '' : `Proxy-Authorization: ${proxy.authorization}\r\n`) + '\r\n')
  })
  socket.on('error', (error) => finish(new Error(`the proxy ${proxy.endpoint}: ${error.message}`)))
  socket.on('close', () => finish(new Error(`the proxy ${proxy.endpoint} closed the connection`)))
  let head = Buffer.alloc(0)
  function onData (chunk: Buffer): void {
    head = Buffer.concat([head, chunk])
    const end = head.indexOf('\r\n\r\n')
    if (end === -1) {
      if (head.length > 16 * 1024) finish(new Error(`the proxy ${proxy.endpoint} sent no answer to CONNECT`))
      return
    }
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.toString('latin1', 0, end))?.[1] ?? 0)
    if (status < 200 || status > 299) {
      const error = new Error(`the proxy ${proxy.endpoint} answered CONNECT with HTTP ${status}`) as NodeJS.ErrnoException
      error.code = PROXY_REFUSED
      finish(error)
      return
    }
    socket.off('data', onData)
    if (end + 4 < head.length) {
      // Anything past the answer is the tunnel's: it goes back to the socket for
      // Node's HTTP client to read, once this listener is gone (unshifted while it
      // listens, the bytes came straight back to it and the head doubled until it
      // overflowed). Paused meanwhile, so they wait for the client's listener,
      // which comes a tick after the socket is handed over; then resumed.
      socket.pause()
      socket.unshift(head.subarray(end + 4))
      finish(null)
      setImmediate(() => socket.resume())
      return
    }
    finish(null)
  }
  socket.on('data', onData)
  return socket
}
