import { X509Certificate, createPrivateKey } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { createSecureContext } from 'node:tls'
import { InvalidOptionError } from './errors.js'

/** TLS versions Node takes for `minVersion`. */
export type TlsVersion = 'TLSv1.3' | 'TLSv1.2' | 'TLSv1.1' | 'TLSv1'

/** TLS material as it is given: PEM text, bytes (a Buffer; pino clones one into a Uint8Array), or a file path. */
export type TlsMaterial = string | Uint8Array

/** The TLS options, resolved: material read and checked once, at construction. */
export interface ResolvedTls {
  readonly rejectUnauthorized: boolean
  /** Certificate authorities, each one PEM certificate. */
  readonly ca?: readonly string[]
  readonly cert?: Buffer
  readonly key?: Buffer
  readonly pfx?: Buffer
  readonly passphrase?: string
  readonly servername?: string
  readonly minVersion?: TlsVersion
  readonly ciphers?: string
}

const VERSIONS: readonly TlsVersion[] = ['TLSv1.3', 'TLSv1.2', 'TLSv1.1', 'TLSv1']
const CERTIFICATE = /-----BEGIN (?:TRUSTED |X509 )?CERTIFICATE-----[\s\S]+?-----END (?:TRUSTED |X509 )?CERTIFICATE-----/g
const PEM_TEXT = /-----BEGIN [A-Z0-9 ]+-----/

/**
 * Read and check the TLS options. Material that holds no certificate (or key)
 * is refused here, naming the option and never showing its content, rather
 * than failing every connection attempt later.
 */
export function resolveTls (get: (key: string) => unknown, name: (key: string) => string, rejectUnauthorized: boolean): ResolvedTls {
  const passphrase = get('passphrase')
  if (passphrase !== undefined && typeof passphrase !== 'string') throw new InvalidOptionError(name('passphrase'), 'a string', passphrase, { secret: true })
  const tls: { -readonly [K in keyof ResolvedTls]: ResolvedTls[K] } = { rejectUnauthorized }
  if (passphrase !== undefined) tls.passphrase = passphrase

  const ca = get('ca')
  if (ca !== undefined) {
    const sources = Array.isArray(ca) ? ca : [ca]
    if (sources.length === 0) throw new InvalidOptionError(name('ca'), 'certificates (PEM text, bytes, a file or a directory path)', ca)
    tls.ca = sources.flatMap((source) => certificates(name('ca'), source, true))
  }
  const cert = get('cert')
  if (cert !== undefined) tls.cert = Buffer.from(certificates(name('cert'), cert, false).join('\n'))
  const key = get('key')
  if (key !== undefined) {
    const bytes = read(name('key'), key, true)
    tls.key = bytes
    checked(() => createPrivateKey({ key: bytes, passphrase }), name('key'), 'a private key (PEM text, bytes or a file path)', key,
      passphrase === undefined ? '' : ' (or the passphrase is wrong)')
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    const missing = tls.cert === undefined ? 'cert' : 'key'
    throw new InvalidOptionError(name(missing), `given with \`${missing === 'cert' ? name('key') : name('cert')}\` (a client certificate needs its key)`, undefined)
  }
  if (tls.cert !== undefined) {
    const { cert: pair, key: pairKey } = tls
    checked(() => createSecureContext({ cert: pair, key: pairKey, passphrase }), name('key'), 'the private key of `cert`', undefined)
  }
  const pfx = get('pfx')
  if (pfx !== undefined) {
    const bundle = read(name('pfx'), pfx, true)
    tls.pfx = bundle
    checked(() => createSecureContext({ pfx: bundle, passphrase }), name('pfx'), 'a PKCS#12 bundle (bytes or a file path)', pfx)
  }
  const servername = get('servername')
  if (servername !== undefined) {
    if (typeof servername !== 'string' || servername === '') throw new InvalidOptionError(name('servername'), 'a host name', servername)
    tls.servername = servername
  }
  const minVersion = get('minVersion')
  if (minVersion !== undefined) {
    if (!VERSIONS.includes(minVersion as TlsVersion)) throw new InvalidOptionError(name('minVersion'), `one of ${VERSIONS.map((v) => `\`${v}\``).join(', ')}`, minVersion)
    tls.minVersion = minVersion as TlsVersion
  }
  const ciphers = get('ciphers')
  if (ciphers !== undefined) {
    if (typeof ciphers !== 'string') throw new InvalidOptionError(name('ciphers'), 'an OpenSSL cipher list', ciphers)
    checked(() => createSecureContext({ ciphers }), name('ciphers'), 'an OpenSSL cipher list', ciphers, '', false)
    tls.ciphers = ciphers
  }
  return Object.freeze(tls)
}

/**
 * The bytes of material given as PEM text, bytes or a file path (read once,
 * here). `secret`: a private key's value is never shown, not even as a path
 * (a key given as text that is not PEM would be taken for one).
 */
function read (option: string, value: unknown, secret = false): Buffer {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  if (typeof value !== 'string' || value === '') {
    throw new InvalidOptionError(option, 'PEM text, bytes or a file path', value, { secret: typeof value === 'string' })
  }
  if (PEM_TEXT.test(value)) return Buffer.from(value)
  try {
    return readFileSync(value)
  } catch (error) {
    throw new InvalidOptionError(option, 'PEM text, bytes or the path of a readable file', value, { secret, hint: `it cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})` })
  }
}

/**
 * The PEM certificates in material: PEM text or bytes (one or more), DER bytes,
 * a file, or (for `ca`, as Fluent Bit's `tls.ca_path`) a directory whose
 * certificate files are all read. Each is parsed, so what holds none is refused.
 */
function certificates (option: string, value: unknown, directories: boolean): string[] {
  if (directories && typeof value === 'string' && !PEM_TEXT.test(value) && isDirectory(value)) {
    const found = readdirSync(value).flatMap((file) => {
      try {
        return certificates(option, join(value, file), false)
      } catch {
        return [] // Not every file of a certificate directory is one (hash links to them are, once more).
      }
    })
    if (found.length === 0) throw new InvalidOptionError(option, 'certificates (PEM text, bytes, a file or a directory path)', value, { hint: 'the directory holds none' })
    return [...new Set(found)]
  }
  const bytes = read(option, value)
  const text = bytes.toString('latin1')
  const blocks = text.match(CERTIFICATE) ?? []
  try {
    if (blocks.length === 0) return [new X509Certificate(bytes).toString()]
    return blocks.map((block) => new X509Certificate(block).toString())
  } catch {
    throw new InvalidOptionError(option, 'certificates (PEM text, bytes or a file path)', value, { secret: typeof value !== 'string' || PEM_TEXT.test(value), hint: 'it holds no certificate that can be read' })
  }
}

function isDirectory (path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/**
 * Run one of Node's own checks of TLS material; its failure becomes an
 * InvalidOptionError with OpenSSL's reason (and `more`), the material not shown unless not `secret`.
 */
function checked (check: () => unknown, option: string, expected: string, given: unknown, more = '', secret = true): void {
  try {
    check()
  } catch (error) {
    throw new InvalidOptionError(option, expected, given, { secret, hint: opensslReason(error) + more })
  }
}

/** OpenSSL's reason, without the error code prefix: `no start line`, `bad decrypt`. */
function opensslReason (error: unknown): string {
  const message = (error as Error).message ?? String(error)
  return message.replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/, '').trim()
}
