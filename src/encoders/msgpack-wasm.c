// msgpack.ts's transcoder (JSON text of one record to a msgpack map) in C, for WebAssembly: the same
// bytes, or a refusal. It answers for a subset of what the JavaScript one takes: a number with an exponent
// or more than 15 digits is refused here (JavaScript's Number() reads those), and so is everything the
// JavaScript transcoder refuses. After a refusal the caller asks the JavaScript transcoder, so the two need
// only agree where this one answers; test/msgpack-transcode.test.ts compares them on random and mutated lines.
//
// scripts/build-wasm.mjs builds it (clang --target=wasm32, no libc) into src/encoders/msgpack-wasm.ts.

#include <stdint.h>
#include <wasm_simd128.h>

typedef uint8_t u8;
typedef uint32_t u32;

#define QUOTE 0x22
#define BACKSLASH 0x5c
#define MAX_DEPTH 64
// The longest line taken; longer ones go to the JavaScript transcoder. The memory is fixed: it never grows.
#define LINE_BYTES 65536
// msgpack.ts writes the event's first bytes (its header and metadata map) before the record's map.
#define EVENT_HEAD 13

// The line, then the quote the caller puts after it (every scan stops there), then room for 16-byte loads.
static u8 line[LINE_BYTES + 32];

static int32_t headers[MAX_DEPTH];
static int32_t counts[MAX_DEPTH];
static u8 arrays[MAX_DEPTH];

static const double POWERS_OF_TEN[16] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15
};

static inline uint32_t space(const u8 *src, uint32_t at, uint32_t end) {
  while (at < end) {
    u8 byte = src[at];
    if (byte != 0x20 && byte != 0x0a && byte != 0x0d && byte != 0x09) break;
    at++;
  }
  return at;
}

static inline void be16(u8 *out, uint32_t value) {
  out[0] = (u8)(value >> 8);
  out[1] = (u8)value;
}

static inline void be32(u8 *out, uint32_t value) {
  out[0] = (u8)(value >> 24);
  out[1] = (u8)(value >> 16);
  out[2] = (u8)(value >> 8);
  out[3] = (u8)value;
}

// A count or a non-negative integer in msgpack's smallest form: in the first byte (`fixed`, under
// `fixedLimit`), else after `tag8` with 1 byte, tag8 + 1 with 2 or tag8 + 2 with 4 (big-endian).
static inline uint32_t sized(u8 *out, uint32_t value, uint32_t pos, uint32_t fixedLimit, u8 fixed, u8 tag8) {
  if (value < fixedLimit) {
    out[pos] = (u8)(fixed | value);
    return pos + 1;
  }
  if (value < 0x100) {
    out[pos] = tag8;
    out[pos + 1] = (u8)value;
    return pos + 2;
  }
  if (value < 0x10000) {
    out[pos] = tag8 + 1;
    be16(out + pos + 1, value);
    return pos + 3;
  }
  out[pos] = tag8 + 2;
  be32(out + pos + 1, value);
  return pos + 5;
}

// An integer within [-2^31, 2^32) in msgpack's smallest form, as @msgpack/msgpack writes it.
static inline uint32_t integer(u8 *out, int64_t value, uint32_t pos) {
  // positive fixint, uint 8 / 16 / 32.
  if (value >= 0) return sized(out, (uint32_t)value, pos, 0x80, 0x00, 0xcc);
  if (value >= -0x20) {
    out[pos] = (u8)(0xe0 | (value + 0x20));
    return pos + 1;
  }
  if (value >= -0x80) {
    out[pos] = 0xd0;
    out[pos + 1] = (u8)value;
    return pos + 2;
  }
  if (value >= -0x8000) {
    out[pos] = 0xd1;
    be16(out + pos + 1, (uint32_t)value);
    return pos + 3;
  }
  out[pos] = 0xd2;
  be32(out + pos + 1, (uint32_t)value);
  return pos + 5;
}

static inline uint32_t float64(u8 *out, double value, uint32_t pos) {
  union { double d; uint64_t u; } bits = { value };
  out[pos] = 0xcb;
  be32(out + pos + 1, (uint32_t)(bits.u >> 32));
  be32(out + pos + 5, (uint32_t)bits.u);
  return pos + 9;
}

// A number as @msgpack/msgpack writes it: an integer within [-2^31, 2^32) as one, any other as a float 64.
static uint32_t number(u8 *out, double value, uint32_t pos) {
  if (value >= -2147483648.0 && value < 4294967296.0 && value == (double)(int64_t)value) {
    // -0 too: @msgpack/msgpack writes it as 0.
    return integer(out, (int64_t)value, pos);
  }
  return float64(out, value, pos);
}

static inline uint32_t hex4(const u8 *src, uint32_t at, uint32_t end) {
  if (at + 4 > end) return 0xffffffff;
  uint32_t code = 0;
  for (int i = 0; i < 4; i++) {
    u8 byte = src[at + i] | 0x20;
    uint32_t digit;
    if (byte >= 0x30 && byte <= 0x39) digit = byte - 0x30;
    else if (byte >= 0x61 && byte <= 0x66) digit = byte - 0x57;
    else return 0xffffffff;
    code = code * 16 + digit;
  }
  return code;
}

static inline uint32_t utf8(u8 *out, uint32_t code, uint32_t at) {
  if (code < 0x80) {
    out[at++] = (u8)code;
  } else if (code < 0x800) {
    out[at++] = (u8)(0xc0 | (code >> 6));
    out[at++] = (u8)(0x80 | (code & 0x3f));
  } else if (code < 0x10000) {
    out[at++] = (u8)(0xe0 | (code >> 12));
    out[at++] = (u8)(0x80 | ((code >> 6) & 0x3f));
    out[at++] = (u8)(0x80 | (code & 0x3f));
  } else {
    out[at++] = (u8)(0xf0 | (code >> 18));
    out[at++] = (u8)(0x80 | ((code >> 12) & 0x3f));
    out[at++] = (u8)(0x80 | ((code >> 6) & 0x3f));
    out[at++] = (u8)(0x80 | (code & 0x3f));
  }
  return at;
}

// fixstr, str 8 / 16 / 32.
static inline uint32_t stringHeader(u8 *out, uint32_t length, uint32_t pos) {
  return sized(out, length, pos, 32, 0xa0, 0xd9);
}

// A string helper's two results in one: where the text goes on, and where the output does; 0 to refuse.
#define RESULT(at, pos) (((uint64_t)(at) << 32) | (pos))

// A string with an escape, from its opening quote at `at`; 0 to refuse.
static uint64_t escapedString(const u8 *src, uint32_t at, uint32_t end, u8 *out, uint32_t pos) {
  uint32_t write = pos + 5;
  at++;
  for (;;) {
    if (at >= end) return 0;
    u8 byte = src[at];
    if (byte == QUOTE) break;
    if (byte != BACKSLASH) {
      out[write++] = byte;
      at++;
      continue;
    }
    u8 escape = src[at + 1];
    at += 2;
    switch (escape) {
      case QUOTE: case BACKSLASH: case 0x2f: out[write++] = escape; break;
      case 0x62: out[write++] = 0x08; break;
      case 0x66: out[write++] = 0x0c; break;
      case 0x6e: out[write++] = 0x0a; break;
      case 0x72: out[write++] = 0x0d; break;
      case 0x74: out[write++] = 0x09; break;
      case 0x75: {
        uint32_t code = hex4(src, at, end);
        if (code == 0xffffffff) return 0;
        at += 4;
        // Only a pair makes a character; a lone half becomes U+FFFD.
        if (code >= 0xdc00 && code <= 0xdfff) {
          code = 0xfffd;
        } else if (code >= 0xd800 && code <= 0xdbff) {
          uint32_t low = src[at] == BACKSLASH && src[at + 1] == 0x75 ? hex4(src, at + 2, end) : 0xffffffff;
          if (low >= 0xdc00 && low <= 0xdfff) {
            at += 6;
            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          } else {
            code = 0xfffd;
          }
        }
        write = utf8(out, code, write);
        break;
      }
      default: return 0;
    }
  }
  uint32_t length = write - pos - 5;
  uint32_t body = stringHeader(out, length, pos);
  __builtin_memmove(out + body, out + pos + 5, length);
  return RESULT(at + 1, body + length);
}

// A string of 16 bytes or more, or with an escape, from its opening quote at `at`: see RESULT.
__attribute__((noinline))
static uint64_t longString(const u8 *src, uint32_t at, uint32_t end, u8 *out, uint32_t pos) {
  const v128_t quote = wasm_i8x16_splat(QUOTE);
  const v128_t backslash = wasm_i8x16_splat(BACKSLASH);
  uint32_t start = at + 1;
  uint32_t close = start;
  uint32_t mask;
  for (;;) {
    v128_t bytes = wasm_v128_load(src + close);
    mask = wasm_i8x16_bitmask(wasm_v128_or(wasm_i8x16_eq(bytes, quote), wasm_i8x16_eq(bytes, backslash)));
    if (mask != 0) break;
    close += 16;
  }
  close += __builtin_ctz(mask);
  if (src[close] != QUOTE) return escapedString(src, at, end, out, pos);
  if (close >= end) return 0;
  uint32_t length = close - start;
  pos = stringHeader(out, length, pos);
  __builtin_memcpy(out + pos, src + start, length);
  return RESULT(close + 1, pos + length);
}

// The string whose opening quote is at `at`, to `pos`: see RESULT. Most keys and values are under 16 bytes
// and have no escape: one 16-byte load finds their end, one store copies them (the output has room past
// its end), in line; the text holds a quote at `end` (the caller's sentinel).
static inline __attribute__((always_inline)) uint64_t string(const u8 *src, uint32_t at, uint32_t end, u8 *out, uint32_t pos) {
  v128_t bytes = wasm_v128_load(src + at + 1);
  uint32_t mask = wasm_i8x16_bitmask(wasm_v128_or(wasm_i8x16_eq(bytes, wasm_i8x16_splat(QUOTE)), wasm_i8x16_eq(bytes, wasm_i8x16_splat(BACKSLASH))));
  // No quote or backslash in the 16 bytes: the quote may come right after them (a string of 16 bytes).
  uint32_t length = __builtin_ctz(mask | 0x10000);
  uint32_t close = at + 1 + length;
  if (src[close] != QUOTE || close >= end) return longString(src, at, end, out, pos);
  out[pos] = (u8)(0xa0 | length);
  wasm_v128_store(out + pos + 1, bytes);
  return RESULT(close + 1, pos + 1 + length);
}

// A map or array of 16 members or more: its header takes 3 or 5 bytes where one was kept.
static uint32_t wideHeader(u8 *out, uint32_t headerAt, uint32_t count, int array, uint32_t pos) {
  int wide = count >= 0x10000;
  uint32_t extra = wide ? 4 : 2;
  __builtin_memmove(out + headerAt + 1 + extra, out + headerAt + 1, pos - headerAt - 1);
  out[headerAt] = (u8)((array ? 0xdc : 0xde) + (wide ? 1 : 0));
  if (wide) be32(out + headerAt + 1, count);
  else be16(out + headerAt + 1, count);
  return pos + extra;
}

// The object in src[at, end), a quote at src[end], to msgpack at out + pos; returns where its bytes end, or 0
// to refuse. The output has room for 3 bytes a byte of the line and 48 more.
static uint32_t transcodeObject(const u8 *src, uint32_t at, uint32_t end, u8 *out, uint32_t pos) {
  u8 byte = src[at];
  if (byte <= 0x20) byte = src[at = space(src, at, end)];
  if (byte != 0x7b) return 0;
  headers[0] = pos;
  out[pos++] = 0x80;
  arrays[0] = 0;
  uint32_t depth = 1;
  uint32_t count = 0;
  int inArray = 0;
  int opened = 1;
  at++;
  for (;;) {
    byte = src[at];
    if (byte <= 0x20) byte = src[at = space(src, at, end)];
    if (opened && byte == (inArray ? 0x5d : 0x7d)) {
      at++;
      if (--depth == 0) break;
      inArray = arrays[depth - 1];
      count = counts[depth - 1];
    } else {
      if (!inArray) {
        if (byte != QUOTE) return 0;
        uint64_t result = string(src, at, end, out, pos);
        if (result == 0) return 0;
        at = (uint32_t)(result >> 32);
        pos = (uint32_t)result;
        byte = src[at];
        if (byte <= 0x20) byte = src[at = space(src, at, end)];
        if (byte != 0x3a) return 0;
        byte = src[++at];
        if (byte <= 0x20) byte = src[at = space(src, at, end)];
      }
      if (byte == QUOTE) {
        uint64_t result = string(src, at, end, out, pos);
        if (result == 0) return 0;
        at = (uint32_t)(result >> 32);
        pos = (uint32_t)result;
      } else if (byte == 0x7b || byte == 0x5b) {
        if (depth >= MAX_DEPTH) return 0;
        inArray = byte == 0x5b;
        counts[depth - 1] = count;
        count = 0;
        headers[depth] = pos;
        out[pos++] = inArray ? 0x90 : 0x80;
        arrays[depth] = (u8)inArray;
        depth++;
        opened = 1;
        at++;
        continue;
      } else if (byte == 0x74) {
        if (src[at + 1] != 0x72 || src[at + 2] != 0x75 || src[at + 3] != 0x65) return 0;
        out[pos++] = 0xc3;
        at += 4;
      } else if (byte == 0x66) {
        if (src[at + 1] != 0x61 || src[at + 2] != 0x6c || src[at + 3] != 0x73 || src[at + 4] != 0x65) return 0;
        out[pos++] = 0xc2;
        at += 5;
      } else if (byte == 0x6e) {
        if (src[at + 1] != 0x75 || src[at + 2] != 0x6c || src[at + 3] != 0x6c) return 0;
        out[pos++] = 0xc0;
        at += 4;
      } else {
        // A number, read once. One with an exponent or over 15 digits is refused: Number() reads those.
        int negative = byte == 0x2d;
        if (negative) byte = src[++at];
        uint32_t first = at;
        uint64_t mantissa = 0;
        uint32_t digits = 0;
        if (byte == 0x30) {
          byte = src[++at];
        } else {
          while (byte >= 0x30 && byte <= 0x39) {
            mantissa = mantissa * 10 + byte - 0x30;
            byte = src[++at];
          }
          if (at == first) return 0;
          digits = at - first;
        }
        uint32_t fraction = 0;
        // Whether a digit after the point is not 0: then the number is no integer.
        uint32_t fractional = 0;
        if (byte == 0x2e) {
          uint32_t start = ++at;
          byte = src[at];
          while (byte >= 0x30 && byte <= 0x39) {
            mantissa = mantissa * 10 + byte - 0x30;
            fractional |= byte - 0x30;
            byte = src[++at];
          }
          if (at == start) return 0;
          fraction = at - start;
        }
        if (byte == 0x65 || byte == 0x45 || digits + fraction > 15) return 0;
        if (fraction == 0 && (negative ? mantissa <= 0x80000000u : mantissa < 0x100000000u)) {
          // -0 too: @msgpack/msgpack writes it as 0.
          pos = integer(out, negative ? -(int64_t)mantissa : (int64_t)mantissa, pos);
        } else {
          // At most 15 digits are exact as an integer, and so is 10^fraction: one division rounds correctly.
          double value = fraction == 0 ? (double)mantissa : (double)mantissa / POWERS_OF_TEN[fraction];
          if (negative) value = -value;
          pos = fractional != 0 ? float64(out, value, pos) : number(out, value, pos);
        }
      }
    }
    opened = 0;
    for (;;) {
      count++;
      byte = src[at];
      if (byte <= 0x20) byte = src[at = space(src, at, end)];
      if (byte == 0x2c) {
        at++;
        break;
      }
      if (byte != (inArray ? 0x5d : 0x7d)) return 0;
      at++;
      depth--;
      if (count >= 16) pos = wideHeader(out, headers[depth], count, inArray, pos);
      else out[headers[depth]] |= (u8)count;
      if (depth == 0) break;
      inArray = arrays[depth - 1];
      count = counts[depth - 1];
    }
    if (depth == 0) break;
  }
  if (at < end && src[at] <= 0x20) at = space(src, at, end);
  if (at != end) return 0;
  return pos;
}

// A piece of pino's output at a time (see lines.h): the event's head (its time, an empty metadata map), made
// by the JavaScript side once a millisecond, then the line transcoded as transcode() does it. transcode()
// writes its event where the runs write their records: msgpack.ts gives the single line and the runs an
// instance each.
#define INPUT_BYTES LINE_BYTES
#define OUTPUT_BYTES (EVENT_HEAD + LINE_BYTES * 3)

// A float takes 9 bytes for JSON's 3 ("0.1"); nothing grows more.
static u32 bound(u32 length) {
  return length * 3;
}

static u32 record(u32 at, u32 stop, u8 *to);

#include "lines.h"

static u32 record(u32 at, u32 stop, u8 *to) {
  // The transcoder's scans stop at a quote: one in place of the line's end while it reads the line.
  u8 end = input[stop];
  input[stop] = QUOTE;
  u32 bytes = transcodeObject(input, at, stop, to, 0);
  input[stop] = end;
  return bytes;
}

__attribute__((export_name("line_buffer")))
u8 *lineBuffer(void) {
  return line;
}

__attribute__((export_name("line_bytes")))
uint32_t lineBytes(void) {
  return LINE_BYTES;
}

__attribute__((export_name("event_buffer")))
u8 *eventBuffer(void) {
  return output;
}

// The object in line[0, end), a quote at line[end], to msgpack at event + EVENT_HEAD; returns where the
// event's bytes end, or 0 to refuse.
__attribute__((export_name("transcode")))
uint32_t transcode(uint32_t end) {
  if (end > LINE_BYTES) return 0;
  return transcodeObject(line, 0, end, output, EVENT_HEAD);
}
