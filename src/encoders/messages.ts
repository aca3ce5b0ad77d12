import { resolveEncoderOptions, type Options } from '../options.js'
import { RecordQueue } from '../queue.js'
import { createEncoder, type LogEvent, type Message } from './index.js'

/** Why {@link encodeMessages} left an event out. */
export interface EncodeDrop {
  /** The event's index in the input. */
  index: number
  reason: 'oversized' | 'unencodable'
  error?: string
}

/**
 * The messages a transport with these options would send for these events, with
 * no connection: for tests, replays and receivers' fixtures. Records are batched
 * by the transport's own rule (as many as fit in `maxMessageBytes`). An event
 * that cannot be encoded, or that alone is larger than a message, is left out and
 * reported to `onDrop`.
 * @throws {InvalidOptionError} when a wire option is wrong or a key is not an option
 * @example
 * const [message] = encodeMessages([{ time: { sec: 1700000000, nsec: 0 }, record: { msg: 'hi' } }], { format: 'json_lines' })
 */
export function encodeMessages (events: Iterable<LogEvent>, options: Options = {}, onDrop?: (drop: EncodeDrop) => void): Message[] {
  const resolved = resolveEncoderOptions(options)
  const encoder = createEncoder(resolved)
  const max = resolved.maxMessageBytes
  // Never more than a message and one record is held, so nothing is ever evicted.
  const queue = new RecordQueue(2 * max, max, 'drop_newest', () => {})
  const messages: Message[] = []
  const take = (): void => {
    const parts = queue.takeBatch(max, encoder.overhead)
    // The message is a view of the queue's ring or of the encoder's buffer, both reused.
    messages.push({ binary: encoder.binary, data: Buffer.from(encoder.frame(parts)) })
    queue.confirm(queue.sentEnd)
  }
  let index = 0
  for (const event of events) {
    let record
    try {
      record = encoder.encodeRecord(event)
    } catch (error) {
      onDrop?.({ index, reason: 'unencodable', error: (error as Error).message })
      index++
      continue
    }
    const length = RecordQueue.byteLength(record)
    if (length + encoder.overhead > max) {
      onDrop?.({ index, reason: 'oversized' })
    } else {
      queue.push(record, length)
      // Past a message's worth: the records that fit go out, the last one waits.
      if (queue.bytes + encoder.overhead > max) take()
    }
    index++
  }
  while (queue.unsent > 0) take()
  return messages
}
