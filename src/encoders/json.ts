import type { DateFormat } from '../options.js'
import { formatDate, type EventTime } from './dates.js'

/**
 * One record as a JSON object with the date key spliced in first, as Fluent Bit
 * writes it: `{"date":1700000000.123457,"msg":"hi"}`. A record that already has
 * the date key keeps its own value and gets no date (Fluent Bit's output parses
 * to exactly that). Non-empty metadata follows the date as
 * `"__internal__":{"log_metadata":{…}}`, again as Fluent Bit writes it.
 */
export function createJsonRecordEncoder (dateKey: string | false, dateFormat: DateFormat): (time: EventTime, record: object, metadata?: object) => string {
  const datePrefix = dateKey === false ? '' : `${JSON.stringify(dateKey)}:`
  return function encodeJsonRecord (time, record, metadata) {
    const body = JSON.stringify(record)
    // undefined for a record whose toJSON returns undefined; anything but an object cannot carry a date key.
    if (typeof body !== 'string' || body.charCodeAt(0) !== 0x7b /* { */) {
      throw new TypeError('the record does not serialize to a JSON object')
    }
    let head = dateKey === false || (record as Record<string, unknown>)[dateKey] !== undefined
      ? ''
      : datePrefix + formatDate(time, dateFormat)
    if (metadata !== undefined) {
      const meta = JSON.stringify(metadata)
      if (meta !== '{}') head += `${head === '' ? '' : ','}"__internal__":{"log_metadata":${meta}}`
    }
    if (head === '') return body
    return body.length === 2 ? `{${head}}` : `{${head},${body.slice(1)}`
  }
}
