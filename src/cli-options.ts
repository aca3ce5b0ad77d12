import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { canonicalOptions, OPTION_KINDS } from './options.js'

/*
 * The CLI's command line: one flag per transport option, made from the options
 * table (OPTION_KINDS), so a new option is a new flag; the same names, upper
 * case, as PINO_WEBSOCKET_* environment variables; and `--config FILE`. Flags
 * win over the environment, which wins over the file.
 */

/** A mistake on the command line or in the config file: printed as it is, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

type OptionKey = { [K in keyof typeof OPTION_KINDS]: typeof OPTION_KINDS[K] extends undefined ? never : K }[keyof typeof OPTION_KINDS]

/** A flag's name where it is not the option's own in kebab case: the names people know from curl and Fluent Bit. */
const FLAG_NAMES: Partial<Record<OptionKey, string>> = {
  headers: 'header',
  protocols: 'protocol',
  jsonDateKey: 'date-key',
  jsonDateFormat: 'date-format'
}

/** One line of help per option; the compiler keeps it complete. */
const OPTION_HELP: Readonly<Record<OptionKey, string>> = {
  url: 'the endpoint: ws://, wss:// or websocket://host:port/path',
  host: 'the endpoint in parts, instead of --url: host (127.0.0.1)',
  port: '… its TCP port (80, or 443 with --tls)',
  uri: '… its path (/)',
  tls: '… over TLS (wss://)',
  headers: 'an upgrade request header, "Name value" or "Name: value"; repeatable',
  protocols: 'a WebSocket subprotocol to offer; repeatable',
  format: 'msgpack (default), json, json_stream, json_lines or gelf',
  jsonDateKey: 'the date key of the JSON formats (date); "false" for none',
  jsonDateFormat: 'double (default), epoch, epoch_ms, iso8601 or java_sql_timestamp',
  gelfShortMessageKey: 'the record key of GELF\'s short_message',
  gelfFullMessageKey: 'the record key of GELF\'s full_message',
  gelfHostKey: 'the record key of GELF\'s host',
  gelfLevelKey: 'the record key of the level (level)',
  gelfTimestampKey: 'the record key of GELF\'s timestamp',
  maxMessageBytes: 'the largest message, in bytes (1048576)',
  maxQueueBytes: 'bytes held while the server is away (33554432)',
  overflow: 'drop_oldest or drop_newest: drop when the queue is full instead of pausing stdin',
  delivery: 'at-least-once (default, confirmed by pongs) or at-most-once',
  connectTimeout: 'ms for TCP, TLS and the handshake (10000)',
  pingInterval: 'ms between heartbeat pings (25000)',
  pongTimeout: 'ms to wait for a pong (10000)',
  reconnectDelay: 'ms, the first retry delay\'s ceiling (250)',
  maxReconnectDelay: 'ms, the longest retry delay (30000)',
  closeTimeout: 'ms to deliver what is queued at the end (5000)',
  keepaliveIdleTimeout: 'ms a connection may stay idle before it is closed (0: never)',
  fallbackFile: 'a file where records given up on are appended as NDJSON',
  spool: 'a directory where records wait on disk until confirmed (survives a crash)',
  maxSpoolBytes: 'bytes the spool may take on disk: 1073741824, or 500M, 1G',
  spoolFsyncInterval: 'ms between fsyncs of the spool (0: never; the kernel keeps it through a crash)',
  rejectUnauthorized: 'verify the server\'s certificate (true); see --insecure',
  ca: 'a certificate authority to trust: PEM or DER file, or a directory; repeatable',
  cert: 'a client certificate file (mutual TLS)',
  key: 'its private key file',
  pfx: 'a client certificate and key as a PKCS#12 file',
  passphrase: 'the passphrase of --key or --pfx (better: PINO_WEBSOCKET_PASSPHRASE)',
  servername: 'the TLS server name, when it differs from the host',
  minVersion: 'the oldest TLS version: TLSv1.2 or TLSv1.3',
  ciphers: 'an OpenSSL cipher list',
  proxy: 'an HTTP proxy, http://[user:pass@]host:port, or "env" for HTTPS_PROXY/HTTP_PROXY',
  quiet: 'print no warnings'
}

/** Every transport option as a flag and an environment variable. */
export const OPTION_FLAGS: ReadonlyArray<{ option: OptionKey, flag: string, env: string, kind: 'text' | 'list' | 'flag', help: string }> =
  (Object.keys(OPTION_HELP) as OptionKey[]).map((option) => {
    const flag = FLAG_NAMES[option] ?? option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
    return { option, flag, env: `PINO_WEBSOCKET_${flag.replace(/-/g, '_').toUpperCase()}`, kind: OPTION_KINDS[option], help: OPTION_HELP[option] }
  })

/** Flags of the CLI itself. */
const CLI_FLAGS = {
  config: { type: 'string' },
  echo: { type: 'boolean' },
  verbose: { type: 'boolean' },
  insecure: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  'give-up-after': { type: 'string' },
  events: { type: 'boolean' },
  version: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' }
} as const

/** What the command line asks for. */
export interface CommandLine {
  command: 'send' | 'receive' | 'drain' | 'help' | 'version'
  /** The transport's options: file, environment and flags merged (not yet resolved). */
  options: Record<string, unknown>
  echo: boolean
  verbose: boolean
  dryRun: boolean
  /** receive: print `{"time","record"}` events rather than bare records. */
  events: boolean
  /** send: ms with records held and none confirmed after which the CLI gives up (undefined: never). */
  giveUpAfter: number | undefined
}

/**
 * Read the command line, the environment and the config file it names.
 * @throws {UsageError} for an unknown flag, a bad file, or an unknown command
 * @throws {InvalidOptionError} for an option given twice in the file
 */
export function commandLine (argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CommandLine {
  const flags: Record<string, { type: 'string' | 'boolean', multiple?: boolean, short?: string }> = { ...CLI_FLAGS }
  for (const { flag, kind } of OPTION_FLAGS) flags[flag] = kind === 'flag' ? { type: 'boolean' } : kind === 'list' ? { type: 'string', multiple: true } : { type: 'string' }
  let parsed: { values: Record<string, unknown>, positionals: string[] }
  try {
    parsed = parseArgs({ args: [...argv], options: flags, allowPositionals: true, strict: true })
  } catch (error) {
    // parseArgs names the flag; its own message says what is wrong.
    throw new UsageError(`pino-websocket: ${(error as Error).message} (see --help)`)
  }
  const { values, positionals } = parsed
  const [command = 'send', ...rest] = positionals
  if (command !== 'send' && command !== 'receive' && command !== 'drain') {
    throw new UsageError(`pino-websocket: unknown command \`${command}\`: the commands are \`receive\`, \`drain\` and none (send); see --help`)
  }
  // drain takes the spool directory as its one argument.
  const spool = command === 'drain' ? rest.shift() : undefined
  if (command === 'drain' && spool === undefined && values.spool === undefined) throw new UsageError('pino-websocket: `drain` needs the spool directory: pino-websocket drain DIR --url …')
  if (rest.length > 0) throw new UsageError(`pino-websocket: unexpected \`${rest[0]}\` after the command; see --help`)

  const options: Record<string, unknown> = typeof values.config === 'string' ? canonicalOptions(readConfig(values.config, env)) : {}
  for (const { option, env: name, kind } of OPTION_FLAGS) {
    const text = env[name]
    if (text !== undefined && text !== '') options[option] = kind === 'list' ? text.split('\n').filter((line) => line.trim() !== '') : text
  }
  for (const { option, flag } of OPTION_FLAGS) {
    if (values[flag] !== undefined) options[option] = values[flag]
  }
  if (values.insecure === true) options.rejectUnauthorized = false
  if (spool !== undefined) options.spool = spool
  const giveUpAfter = values['give-up-after'] ?? env.PINO_WEBSOCKET_GIVE_UP_AFTER
  const giveUpMs = giveUpAfter === undefined || giveUpAfter === '' ? undefined : Number(giveUpAfter)
  if (giveUpMs !== undefined && !(Number.isInteger(giveUpMs) && giveUpMs >= 1)) {
    throw new UsageError(`pino-websocket: expected \`--give-up-after\` to be a whole number of ms, 1 or more, got \`${String(giveUpAfter)}\``)
  }
  return {
    command: values.help === true ? 'help' : values.version === true ? 'version' : command,
    options,
    echo: values.echo === true,
    verbose: values.verbose === true,
    dryRun: values['dry-run'] === true,
    events: values.events === true,
    giveUpAfter: giveUpMs
  }
}

/** The help text: every flag, from the same table. */
export function usage (): string {
  const width = 30
  const line = (flag: string, help: string): string => `  ${flag.padEnd(width)}${help}`
  const optionLines = OPTION_FLAGS.map(({ flag, kind, help }) => line(kind === 'flag' ? `--${flag}` : `--${flag} ${kind === 'list' ? 'VALUE' : 'V'}`, help))
  return [
    'Usage:',
    '  node app.js | pino-websocket --url ws://host:port/path [options]',
    '  pino-websocket --url … < lost.ndjson        replay a file (a fallback file, say)',
    '  pino-websocket receive [--port 8080] [--host 127.0.0.1] [--format auto] [--events]',
    '  pino-websocket drain DIR --url …            send what dead processes left in a spool directory',
    '',
    'Every line of stdin that is a JSON object is sent as a record; other lines are counted and skipped.',
    '',
    'Options (each also as an environment variable: --max-queue-bytes is PINO_WEBSOCKET_MAX_QUEUE_BYTES;',
    'a repeatable one takes one value per line):',
    ...optionLines,
    line('--insecure', 'do not verify the server\'s certificate (--reject-unauthorized false)'),
    line('--config FILE', 'options from a file: JSON, or a Fluent Bit [OUTPUT] section (classic or YAML)'),
    line('--echo', 'also copy stdin to stdout'),
    line('--verbose', 'print connections, disconnections and retries'),
    line('--give-up-after MS', 'give up once records have waited MS ms with none confirmed: exit 1 (default: never)'),
    line('--dry-run', 'check the options, print them resolved, and exit'),
    line('--version, -v', 'print the version'),
    line('--help, -h', 'print this help'),
    '',
    'receive: a server that prints each record it decodes as one JSON line (pipe it into pino-pretty);',
    '  --format auto|msgpack|json|json_stream|json_lines|gelf, --date-key, --date-format as the sender\'s;',
    '  --events prints {"time","record"} instead; a summary goes to stderr on exit.',
    '',
    'drain: sends the journals of dead processes in the spool DIR (in the format they were written in),',
    '  and exits 0 once every record is confirmed; with --give-up-after, 1 if that wait runs out.',
    '',
    'Pipe mode reads stdin to its end and waits, however long the server is away, until every record is',
    'confirmed; --give-up-after bounds that wait.',
    '',
    'Exit codes: 0 every record delivered (skipped non-JSON lines included); 1 records dropped, or given up',
    'on (see stderr); 2 bad flags or options; 130 and 143 after SIGINT and SIGTERM (what was read is delivered',
    'first, within --close-timeout).'
  ].join('\n')
}

/**
 * The options in a config file: a JSON object, or the `websocket` output of a
 * Fluent Bit configuration, classic (`[OUTPUT]` sections of `Key value` lines)
 * or YAML (`pipeline: outputs: - name: websocket`). `${NAME}` takes the
 * environment variable, as Fluent Bit does.
 */
export function readConfig (path: string, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new UsageError(`pino-websocket: cannot read the config file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  const expand = (value: string): string => value.replace(/\$\{([A-Za-z_]\w*)\}/g, (_, name: string) => {
    const found = env[name]
    if (found === undefined) throw new UsageError(`pino-websocket: the config file ${path} uses \${${name}}, which is not set in the environment`)
    return found
  })
  if (/^\s*\{/.test(text)) {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (error) {
      throw new UsageError(`pino-websocket: the config file ${path} is not JSON: ${(error as Error).message}`)
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`pino-websocket: the config file ${path} must hold a JSON object`)
    return value as Record<string, unknown>
  }
  const pairs = /\.ya?ml$/i.test(path) ? yamlOutput(text) : classicOutput(text)
  if (pairs === undefined) throw new UsageError(`pino-websocket: the config file ${path} is neither JSON nor a Fluent Bit configuration with a \`websocket\` output`)
  const options: Record<string, unknown> = {}
  for (const [key, raw] of pairs) {
    const value = expand(raw)
    const previous = options[key]
    // A repeated key (Fluent Bit's Header) is a list.
    options[key] = previous === undefined ? value : Array.isArray(previous) ? [...previous as string[], value] : [previous, value]
  }
  return options
}

/** The first `[OUTPUT]` section whose `Name` is websocket, as key-value pairs. */
function classicOutput (text: string): Array<[string, string]> | undefined {
  let section: Array<[string, string]> | undefined
  let inOutput = false
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith('@')) continue
    const header = /^\[([^\]]+)\]$/.exec(line)
    if (header !== null) {
      if (section !== undefined && isWebsocket(section)) return section
      inOutput = header[1].trim().toUpperCase() === 'OUTPUT'
      section = inOutput ? [] : undefined
      continue
    }
    if (!inOutput || section === undefined) continue
    const match = /^(\S+)\s+(.*)$/.exec(line)
    if (match !== null) section.push([match[1], match[2].trim()])
  }
  return section !== undefined && isWebsocket(section) ? section : undefined
}

/**
 * The first entry of `outputs:` whose `name` is websocket, as key-value pairs (the YAML Fluent Bit writes:
 * scalars, and a key whose value is a list of scalars, as `header:` is in Fluent Bit's documentation: one pair
 * per item).
 */
function yamlOutput (text: string): Array<[string, string]> | undefined {
  let outputsIndent = -1
  let entryIndent = -1
  let entry: Array<[string, string]> | undefined
  /** A key with no value on its line: the list items below it are its values. */
  let list: { key: string, indent: number } | undefined
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*(#|$)/.test(raw)) continue
    const indent = raw.length - raw.trimStart().length
    const line = raw.trim()
    if (list !== undefined && indent <= list.indent) list = undefined
    if (entry !== undefined && indent <= entryIndent) {
      if (isWebsocket(entry)) return entry
      entry = undefined
    }
    if (/^outputs:\s*$/.test(line)) {
      outputsIndent = indent
      continue
    }
    if (outputsIndent === -1) continue
    if (indent <= outputsIndent) {
      outputsIndent = -1
      continue
    }
    const item = /^-\s+(.*)$/.exec(line)
    if (item !== null && list !== undefined && entry !== undefined) {
      const value = yamlScalar(item[1])
      if (value !== '') entry.push([list.key, value])
      continue
    }
    const pair = yamlPair(item === null ? line : item[1])
    if (item !== null) {
      entry = []
      entryIndent = indent
    }
    if (entry === undefined || pair === undefined) continue
    if (pair[1] === '') list = { key: pair[0], indent }
    else entry.push(pair)
  }
  return entry !== undefined && isWebsocket(entry) ? entry : undefined
}

function yamlPair (text: string): [string, string] | undefined {
  const match = /^([^:\s]+):(?:\s+(.*))?$/.exec(text)
  if (match === null) return undefined
  return [match[1], yamlScalar(match[2] ?? '')]
}

/** A scalar as written: a comment after it goes, quotes come off. */
function yamlScalar (text: string): string {
  const value = /^(.*?)\s*(?:\s#.*)?$/.exec(text.trim())?.[1] ?? ''
  const quoted = /^(['"])(.*)\1$/.exec(value)
  return quoted === null ? value : quoted[2]
}

function isWebsocket (pairs: Array<[string, string]>): boolean {
  return pairs.some(([key, value]) => key.toLowerCase() === 'name' && value.toLowerCase() === 'websocket')
}
