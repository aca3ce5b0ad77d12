#!/usr/bin/env node
import { existsSync, fstatSync, readSync } from 'node:fs'
import { Client, type Stats } from './client.js'
import { commandLine, OPTION_FLAGS, usage, UsageError, type CommandLine } from './cli-options.js'
import { InvalidOptionError } from './errors.js'
import { countLineFeeds, NdjsonReader } from './ndjson.js'
import { resolveOptions, type ResolvedOptions } from './options.js'
import { receive } from './receive.js'
import { deadJournalFormat } from './spool.js'
import { VERSION } from './version.js'

/** Exit codes; the README lists them. */
const OK = 0
const DROPPED = 1
const USAGE = 2
const SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const

/** Entry point; resolves with the process exit code. */
async function main (argv: string[]): Promise<number> {
  const line = commandLine(argv)
  switch (line.command) {
    case 'help':
      process.stdout.write(usage() + '\n')
      return OK
    case 'version':
      process.stdout.write(VERSION + '\n')
      return OK
    case 'receive':
      return receive(line.options, line.events)
    case 'send':
      return send(line)
    case 'drain':
      return drain(line)
  }
}

/**
 * Pipe mode: stdin's lines go through the same NDJSON reader as pino's output
 * (JSON lines spliced or transcoded, no parse per line). When the queue is half
 * full, stdin waits, so a replayed file arrives whole; `--overflow` chooses
 * dropping instead, for a live app that must never wait on its pipe.
 *
 * The engine's sockets and timers never hold a process open (an app's logger
 * must not); here the CLI is the app, so a referenced handle keeps it alive for
 * as long as input is unread or records are held. It ends at the end of input
 * once everything is confirmed, on a signal, or when `--give-up-after` passes
 * with records held and none confirmed.
 */
async function send ({ options, echo, verbose, dryRun, giveUpAfter }: CommandLine): Promise<number> {
  const resolved = resolveOptions(options)
  if (dryRun) {
    process.stdout.write(JSON.stringify(describe(resolved), null, 2) + '\n')
    return OK
  }
  const client = new Client(resolved)
  const say = (text: string): void => { process.stderr.write(`pino-websocket: ${text}\n`) }
  if (!resolved.quiet) client.on('warn', ({ message }) => say(asFlags(message)))
  if (verbose) {
    client.on('open', ({ endpoint }) => say(`connected to ${endpoint}`))
    client.on('disconnect', ({ endpoint, code, reason }) => say(`disconnected from ${endpoint}: ${code}${reason === '' ? '' : ` ${reason}`}`))
    client.on('reconnecting', ({ attempt, delay, error }) => say(`retry ${attempt} in ${delay} ms${error === undefined ? '' : ` (${error})`}`))
    client.on('drop', ({ reason, count, error }) => say(`dropped ${count} record(s): ${reason}${error === undefined ? '' : ` (${error})`}`))
  }
  // The summary names why the first skipped line could not be encoded.
  let firstSkip: string | undefined
  client.on('drop', ({ reason, error }) => { if (reason === 'unencodable') firstSkip ??= error })
  const waitForRoom = options.overflow === undefined
  // With a spool, stdin waits once half of it is taken; without, half of the queue.
  const high = Math.floor((resolved.spool === undefined ? resolved.maxQueueBytes : resolved.maxSpoolBytes) / 2)
  const reader = new NdjsonReader(client)
  const stdin = process.stdin
  let echoing = echo
  if (echo) {
    // A closed reader (`| head`) stops the echo, never the shipping.
    process.stdout.on('error', () => { echoing = false })
  }
  const hold = setInterval(() => {}, 1 << 30)
  /** Bytes of stdin handed to the reader: where an unread rest begins. */
  let consumed = 0

  let stopped: (why: Stop) => void = () => {}
  const stop = new Promise<Stop>((resolve) => { stopped = resolve })
  const onSignal = (name: keyof typeof SIGNALS): void => {
    // The first signal ends the input: what was read is delivered (within closeTimeout). A second one ends at once.
    process.once(name, () => process.exit(SIGNALS[name]))
    stopped(name)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const watchdog = giveUpAfter === undefined ? undefined : watchProgress(client, giveUpAfter, () => stopped('give-up'))

  const input = new Promise<void>((resolve) => {
    stdin.on('data', (chunk: Buffer) => {
      consumed += chunk.length
      if (echoing) process.stdout.write(chunk)
      reader.write(chunk)
      // With a spool, the chunk's lines are on disk before they count as read.
      client.commit()
      if (waitForRoom && client.queuedBytes > high) {
        stdin.pause()
        void client.whenQueueBelow(high / 2).then(() => stdin.resume())
      }
    })
    stdin.once('end', resolve)
    stdin.once('error', () => resolve())
  })
  let why = await Promise.race([input.then(() => undefined), stop])
  const inputEnded = why === undefined
  // Given up, the line being read is part of what was not read; otherwise it is the last record.
  if (why !== 'give-up') reader.end()
  if (why === undefined) why = await Promise.race([client.flush(Infinity).then(() => undefined), stop])
  const unread = inputEnded ? 0 : unreadInput(consumed)
  stdin.destroy()
  await client.close(why === 'give-up' ? 0 : undefined)
  clearInterval(hold)
  clearInterval(watchdog)
  const stats = client.stats()
  const summary = summarize(stats, firstSkip)
  if (why === 'give-up') {
    const where = resolved.fallbackFile === undefined ? '' : `, written to ${resolved.fallbackFile}`
    say(`gave up after ${giveUpAfter ?? 0} ms with nothing confirmed: read ${stats.accepted} record(s), ${summary ?? `delivered ${stats.delivered}`}${where}; ` +
      (inputEnded ? 'the input was read to its end' : unread === undefined ? 'the rest of the input was not read' : `${unread} line(s) of the input not read`))
    return DROPPED
  }
  if (summary !== undefined) say(summary)
  if (why !== undefined) return SIGNALS[why]
  return dropped(stats) > 0 ? DROPPED : OK
}

/**
 * Send what dead processes left in a spool directory, without the app: the
 * journals are adopted as a new transport would adopt them, in the format they
 * were written in, and the CLI exits once every record is confirmed (0), or
 * when `--give-up-after` passes with none confirmed (1: they stay in the spool).
 */
async function drain ({ options, verbose, giveUpAfter }: CommandLine): Promise<number> {
  const dir = options.spool as string
  if (!existsSync(dir)) throw new UsageError(`pino-websocket: drain: the spool directory ${dir} does not exist`)
  // The journals say their format; sent as they were written unless --format says otherwise.
  const format = options.format ?? deadJournalFormat(dir)
  const resolved = resolveOptions(format === undefined ? options : { ...options, format })
  const client = new Client(resolved)
  const say = (text: string): void => { process.stderr.write(`pino-websocket: ${text}\n`) }
  if (!resolved.quiet) client.on('warn', ({ message }) => say(asFlags(message)))
  if (verbose) client.on('open', ({ endpoint }) => say(`connected to ${endpoint}`))
  const hold = setInterval(() => {}, 1 << 30)
  let gaveUp = false
  let giveUp: () => void = () => {}
  const given = new Promise<void>((resolve) => { giveUp = resolve })
  const watchdog = giveUpAfter === undefined ? undefined : watchProgress(client, giveUpAfter, () => { gaveUp = true; giveUp() })
  // A signal ends the wait as the default handler would: what is unconfirmed stays in the spool.
  await Promise.race([client.flush(Infinity), given])
  await client.close(gaveUp ? 0 : undefined)
  clearInterval(hold)
  clearInterval(watchdog)
  const stats = client.stats()
  say(`drained ${dir}: ${stats.recovered} record(s) found, ${stats.delivered} delivered${dropped(stats) > 0 ? `, ${summarize(stats, undefined) ?? ''}` : ''}${stats.pending > 0 ? `, ${stats.pending} left in the spool` : ''}`)
  return stats.pending === 0 && dropped(stats) === 0 ? OK : DROPPED
}

/** A message of the engine's in the CLI's words: an option named in backquotes becomes its flag (`fallbackFile` -> `--fallback-file`). */
function asFlags (message: string): string {
  return message.replace(/`([a-z][A-Za-z]*)`/g, (text, name: string) => {
    const found = OPTION_FLAGS.find(({ option }) => option === name)
    return found === undefined ? text : `\`--${found.flag}\``
  })
}

type Stop = keyof typeof SIGNALS | 'give-up' | undefined

/**
 * Call `giveUp` once records have been held for `timeout` ms with none
 * confirmed. Returns the referenced interval that watches.
 */
function watchProgress (client: Client, timeout: number, giveUp: () => void): NodeJS.Timeout {
  let delivered = client.stats().delivered
  let since = Date.now()
  return setInterval(() => {
    const stats = client.stats()
    if (stats.delivered !== delivered || stats.pending === 0) {
      delivered = stats.delivered
      since = Date.now()
    } else if (Date.now() - since >= timeout) {
      giveUp()
    }
  }, Math.max(10, Math.min(1000, Math.floor(timeout / 10))))
}

/**
 * The lines of stdin from byte `from` on, when stdin is a file (a replay): what
 * was never read. Undefined for a pipe, whose rest cannot be counted.
 */
function unreadInput (from: number): number | undefined {
  try {
    if (!fstatSync(0).isFile()) return undefined
    const buffer = Buffer.allocUnsafe(1 << 20)
    let lines = 0
    let last = 0x0a
    let position = from
    for (;;) {
      const read = readSync(0, buffer, 0, buffer.length, position)
      if (read === 0) break
      position += read
      lines += countLineFeeds(buffer, read)
      last = buffer[read - 1]
    }
    // A last line without its line feed is a line too.
    return position > from && last !== 0x0a ? lines + 1 : lines
  } catch {
    return undefined
  }
}

/** Records dropped for a reason that loses data: a line that is no JSON object is skipped, not dropped. */
function dropped (stats: Stats): number {
  // Every reason but unencodable, which is a skipped line of input (reported, exit 0).
  const { unencodable: _skipped, ...lost } = stats.dropped
  return Object.values(lost).reduce((sum, count) => sum + count, 0)
}

/** One line on stderr at the end when anything did not go through. */
function summarize (stats: Stats, firstSkip: string | undefined): string | undefined {
  const skipped = stats.dropped.unencodable
  const lost = dropped(stats)
  if (skipped === 0 && lost === 0) return undefined
  const reasons = Object.entries(stats.dropped).filter(([reason, count]) => count > 0 && reason !== 'unencodable').map(([reason, count]) => `${count} ${reason}`)
  return `delivered ${stats.delivered}` +
    (lost > 0 ? `, dropped ${lost} (${reasons.join(', ')})` : '') +
    (skipped > 0 ? `, skipped ${skipped} line(s) that could not be encoded${firstSkip === undefined ? '' : ` (the first: ${firstSkip})`}` : '')
}

/** The resolved options as --dry-run prints them: no secret (no userinfo or query, no header value, no key material). */
function describe (resolved: ResolvedOptions): Record<string, unknown> {
  const { url: _url, secrets: _secrets, unknownKeys, headers, tls, proxy, ...rest } = resolved
  const { ca, cert, key, pfx, passphrase, ...tlsRest } = tls
  return {
    ...rest,
    headers: Object.keys(headers),
    tls: {
      ...tlsRest,
      ca: ca === undefined ? undefined : `${ca.length} certificate(s)`,
      cert: cert === undefined ? undefined : 'given',
      key: key === undefined ? undefined : 'given',
      pfx: pfx === undefined ? undefined : 'given',
      passphrase: passphrase === undefined ? undefined : 'given'
    },
    proxy: proxy?.endpoint,
    unknownKeys
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (error: Error) => {
  process.stderr.write(`${error instanceof UsageError || error instanceof InvalidOptionError ? error.message : String(error.stack)}\n`)
  process.exitCode = USAGE
})
