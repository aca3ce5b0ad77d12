import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { connect, createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { once } from 'node:events'

// Receivers and proxies that nobody here wrote, run as child processes. Each
// receiver prints JSON lines (see servers/receiver.py): its port, connections,
// the `seq` of every record of every message, and the close codes.

const here = import.meta.dirname
/** Debian's python3, where python3-websockets and python3-aiohttp install (not a pyenv one on PATH). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'
const GOPATH = '/usr/share/gocode'

export type ReceiverKind = 'websockets' | 'aiohttp' | 'gorilla' | 'nhooyr'

/** Why a case cannot run here, or undefined when it can. */
export function missing (what: ReceiverKind | 'nginx' | 'haproxy'): string | undefined {
  switch (what) {
    case 'websockets':
    case 'aiohttp':
      return spawnSync(PYTHON, ['-c', `import ${what}`]).status === 0 ? undefined : `Python's ${what} is not installed (Debian: python3-${what})`
    case 'gorilla':
      if (spawnSync('go', ['version']).status !== 0) return 'Go is not installed (Debian: golang-go)'
      return existsSync(join(GOPATH, 'src/github.com/gorilla/websocket')) ? undefined : 'gorilla/websocket is not installed (Debian: golang-github-gorilla-websocket-dev)'
    case 'nhooyr':
      if (spawnSync('go', ['version']).status !== 0) return 'Go is not installed (Debian: golang-go)'
      return existsSync(join(GOPATH, 'src/nhooyr.io/websocket')) ? undefined : 'nhooyr.io/websocket is not installed (Debian: golang-nhooyr-websocket-dev)'
    case 'nginx':
    case 'haproxy':
      return spawnSync('sh', ['-c', `command -v ${what} || test -x /usr/sbin/${what}`]).status === 0 ? undefined : `${what} is not installed (Debian: ${what === 'nginx' ? 'nginx-light' : 'haproxy'})`
  }
}

/** Every process started here and not stopped yet, for {@link stopAll}. */
const LIVE = new Set<ChildProcess>()

/** Stop whatever a test left running (after a failure), so the run can end. */
export async function stopAll (): Promise<void> {
  await Promise.all([...LIVE].map(async (child) => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    }
    LIVE.delete(child)
  }))
}

function track (child: ChildProcess): ChildProcess {
  LIVE.add(child)
  child.once('exit', () => LIVE.delete(child))
  return child
}

const goBinaries = new Map<string, string>()
/** A Go receiver (servers/NAME.go), built once per run (Debian's Go, GOPATH mode, offline). */
function goBinary (name: 'receiver' | 'nhooyr'): string {
  const built = goBinaries.get(name)
  if (built !== undefined) return built
  const dir = join(tmpdir(), `pino-ws-interop-go-${process.pid}`)
  mkdirSync(dir, { recursive: true })
  const binary = join(dir, name)
  execFileSync('go', ['build', '-o', binary, join(here, 'servers', `${name}.go`)], {
    cwd: dir,
    env: { ...process.env, GO111MODULE: 'off', GOPATH, GOCACHE: join(dir, 'cache'), GOFLAGS: '' },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  goBinaries.set(name, binary)
  return binary
}

export interface Receiver {
  kind: ReceiverKind
  port: number
  /** The `seq` of every record received, in order of arrival (duplicates kept). */
  seqs: number[]
  connections: number
  closes: number[]
  child: ChildProcess
  kill (signal?: NodeJS.Signals): Promise<void>
}

/** Start a receiver; `port` 0 for any free one. Options: maxSize (bytes), stallFirst and stallMs. */
export async function startReceiver (kind: ReceiverKind, { port = 0, maxSize, stallFirst, stallMs }: { port?: number, maxSize?: number, stallFirst?: number, stallMs?: number } = {}): Promise<Receiver> {
  let child: ChildProcess
  if (kind === 'gorilla' || kind === 'nhooyr') {
    child = track(spawn(goBinary(kind === 'gorilla' ? 'receiver' : 'nhooyr'), ['-port', String(port), ...(maxSize !== undefined ? ['-limit', String(maxSize)] : [])], { stdio: ['ignore', 'pipe', 'inherit'] }))
  } else {
    const args = [join(here, 'servers', 'receiver.py'), kind, '--port', String(port)]
    if (maxSize !== undefined) args.push('--max-size', String(maxSize))
    if (stallFirst !== undefined) args.push('--stall-first', String(stallFirst), '--stall-ms', String(stallMs ?? 0))
    child = track(spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'inherit'] }))
  }
  const receiver: Receiver = {
    kind,
    port: 0,
    seqs: [],
    connections: 0,
    closes: [],
    child,
    async kill (signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill(signal)
      await exited
    }
  }
  const listening = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${kind} receiver exited with ${code} before listening`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as { port?: number, connection?: number, seqs?: number[], close?: number | null }
      if (event.port !== undefined) {
        receiver.port = event.port
        resolve()
      }
      if (event.connection !== undefined) receiver.connections++
      if (event.seqs !== undefined) receiver.seqs.push(...event.seqs)
      if (event.close !== undefined) receiver.closes.push(event.close ?? 1005)
    })
  })
  await listening
  return receiver
}

/** A port free a moment ago. */
export async function freePort (): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/** A proxy process (nginx or HAProxy) with the given configuration text, stopped by `stop()`. */
export async function startProxy (kind: 'nginx' | 'haproxy', config: (dir: string) => string, port: number): Promise<{ stop: () => Promise<void> }> {
  const dir = join(tmpdir(), `pino-ws-interop-${kind}-${process.pid}-${port}`)
  mkdirSync(join(dir, 'logs'), { recursive: true })
  const file = join(dir, `${kind}.conf`)
  // HAProxy refuses a last line without its line feed.
  writeFileSync(file, config(dir).trimEnd() + '\n')
  const binary = existsSync(`/usr/sbin/${kind}`) ? `/usr/sbin/${kind}` : kind
  const args = kind === 'nginx' ? ['-p', dir, '-c', file, '-e', join(dir, 'logs', 'error.log'), '-g', 'daemon off;'] : ['-f', file, '-db']
  const child = track(spawn(binary, args, { stdio: ['ignore', 'ignore', 'inherit'] }))
  // Ready once it accepts connections.
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${kind} exited with ${child.exitCode}`)
    const ok = await new Promise<boolean>((resolve) => {
      const probe = connect(port, '127.0.0.1', () => { probe.destroy(); resolve(true) })
      probe.on('error', () => resolve(false))
    })
    if (ok) break
    if (Date.now() > deadline) throw new Error(`${kind} did not listen on ${port}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    async stop () {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    }
  }
}
