// gelf.ts's transcoder (the JSON text of one pino line to a GELF 1.1 message) in C, for WebAssembly: the
// same bytes, or a refusal. It answers for a subset of what the JavaScript one takes: a number JavaScript
// would print otherwise (`1.50`, `1e3`, over 15 digits), a `time` or `level` that is not a plain integer, a
// level name past ASCII, and a line whose message would outgrow the output are refused here, and so is
// everything the JavaScript transcoder declines. After a refusal the caller asks the JavaScript transcoder,
// so the two need only agree where this one answers; test/gelf.test.ts compares this one with the parse
// path on random lines.
//
// Unlike the JavaScript transcoder it keeps no shape of the lines before: building and checking each name
// costs less here than matching a kept shape costs there.
//
// scripts/build-wasm.mjs builds it (clang --target=wasm32, no libc) into src/encoders/gelf-wasm.ts.

#include <stdint.h>
#include <wasm_simd128.h>

typedef uint8_t u8;
typedef uint32_t u32;

#define QUOTE 0x22
#define BACKSLASH 0x5c
#define UNDERSCORE 0x5f
// As in gelf.ts: containers nested deeper than MAX_DEPTH - 4 and lines of more members are refused.
#define MAX_DEPTH 64
#define MAX_MEMBERS 1024
// The longest line taken; longer ones go to the JavaScript transcoder. The memory is fixed: it never grows.
#define LINE_BYTES 65536
// A message outgrows its line by its names (a parent's name again in each child's) and its arrays' escaped
// quotes: a line whose message would pass this is refused.
#define OUT_BYTES (LINE_BYTES * 4)
#define MACHINE_BYTES 1024
#define KEY_BYTES 4096
#define MAX_SPECIAL 32
#define HASH_BASE 0x01000193u

// A piece of pino's output at a time (see lines.h): each line's message as transcode() makes it, its
// timestamp the head, which run() leaves to record(). A message may take bound(): four times its line, and
// room for the host's name, GELF's keys and the timestamp; one that would take more is refused here, and
// the reader's line path (transcode(), with four times the longest line) takes its line.
#define HEAD_INSIDE
#define INPUT_BYTES LINE_BYTES
#define OUTPUT_BYTES (LINE_BYTES * 4 + MACHINE_BYTES + 1024)

static u32 bound(u32 length) {
  return length * 4 + MACHINE_BYTES + 1024;
}

static u32 record(u32 at, u32 stop, u8 *to);

#include "lines.h"

// Kinds of the members indexed, as in gelf.ts.
enum { STRING, NUMBER, TRUE, FALSE, NUL, OBJECT, EMPTY_OBJECT, ARRAY };

// transcode()'s line, then the quote the caller puts after it (every scan stops there), then room for
// 16-byte loads; and its message, then room for 16-byte stores.
static u8 lineArea[LINE_BYTES + 32];
static u8 outArea[OUT_BYTES + 32];
// The line being read (a quote after it, room for loads), where its message goes (room for stores) and
// the room the message may take: transcode()'s, or a run's line and record (see record() below).
static u8 *line = lineArea;
static u8 *out = outArea;
static u32 room = OUT_BYTES;
// The name of the object each depth is in (the names of its parents joined by `_`), then room for loads.
static u8 names[LINE_BYTES + 32];
static u32 parentLength[MAX_DEPTH];
static u32 parentHash[MAX_DEPTH];

// Set once by configure(): the host's name as a JSON string, the timestamp (set by the caller for each
// new time), the special keys' bytes one after another and their lengths.
static u8 machine[MACHINE_BYTES + 32];
static u32 machineLength;
static u8 stamp[64];
static u8 keyBytes[KEY_BYTES];
static u32 keyLengths[MAX_SPECIAL];
static u32 specialAt[MAX_SPECIAL];
static u32 specialHash[MAX_SPECIAL];
static int32_t specialMember[MAX_SPECIAL];
static u32 specialCount;
// The special keys, as in gelf.ts: short_message's candidates [0, hosts), host's [hosts, full), then
// full_message's, level's, `time`, and the declined keys from full + 3 (the first, `stack`, is declined one
// level down too: an error's stack).
static u32 hosts;
static u32 full;
static u32 idHash;

// The line's members in document order (members of arrays are not indexed).
static u32 depthOf[MAX_MEMBERS];
static u32 keyStart[MAX_MEMBERS];
static u32 keyEnd[MAX_MEMBERS];
static u32 keyHash[MAX_MEMBERS];
static u32 keyPower[MAX_MEMBERS];
static u32 valueStart[MAX_MEMBERS];
static u32 valueEnd[MAX_MEMBERS];
static u8 kindOf[MAX_MEMBERS];
static u32 members;
// Key hashes of the objects being read, to find a key given twice.
static u32 keyStack[MAX_MEMBERS];
// The containers being read: where their keys start in keyStack, the member they are the value of (-1:
// the line's object, -2: not indexed), whether an array, whether their members are indexed.
static u32 frameKeys[MAX_DEPTH];
static int32_t frameMember[MAX_DEPTH];
static u8 frameArray[MAX_DEPTH];
static u8 frameIndexed[MAX_DEPTH];
// Hashes of the names written for this line: an open-addressed table, its slots stamped with the line's number.
#define NAME_SLOTS (MAX_MEMBERS * 4)
static u32 nameSlots[NAME_SLOTS];
static u32 nameStamps[NAME_SLOTS];
static u32 lineStamp;

// 1 for each byte that may stand in a GELF field name as it is: [A-Za-z0-9_.-].
static inline int nameByte(u8 byte) {
  return (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39) ||
    byte == UNDERSCORE || byte == 0x2e || byte == 0x2d;
}

// Copy n bytes; both sides have 16 bytes of room past their ends.
static inline void copy(u8 *to, const u8 *from, u32 n) {
  if (n <= 16) wasm_v128_store(to, wasm_v128_load(from));
  else __builtin_memcpy(to, from, n);
}

static inline u32 put(u32 pos, const char *text, u32 n) {
  __builtin_memcpy(out + pos, text, n);
  return pos + n;
}

// Strict UTF-8, as Node's isUtf8: no overlong forms, no surrogates, nothing past U+10FFFF.
static int validUtf8(const u8 *s, u32 n) {
  u32 i = 0;
  while (i < n) {
    u8 b = s[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    u32 need;
    u8 low = 0x80, high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b == 0xe0) { need = 2; low = 0xa0; }
    else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) need = 2;
    else if (b == 0xed) { need = 2; high = 0x9f; }
    else if (b == 0xf0) { need = 3; low = 0x90; }
    else if (b >= 0xf1 && b <= 0xf3) need = 3;
    else if (b == 0xf4) { need = 3; high = 0x8f; }
    else return 0;
    if (i + need >= n) return 0;
    if (s[i + 1] < low || s[i + 1] > high) return 0;
    for (u32 k = 2; k <= need; k++) if ((s[i + k] & 0xc0) != 0x80) return 0;
    i += need + 1;
  }
  return 1;
}

// A string with no escape and no control character, in valid UTF-8, from its opening quote at `at`;
// returns the index past its closing quote, 0 to refuse. The line holds a quote at `end`.
static u32 string(const u8 *src, u32 at, u32 end) {
  const v128_t quote = wasm_i8x16_splat(QUOTE);
  const v128_t backslash = wasm_i8x16_splat(BACKSLASH);
  const v128_t space = wasm_i8x16_splat(0x20);
  u32 i = at + 1;
  u32 high = 0;
  for (;;) {
    v128_t bytes = wasm_v128_load(src + i);
    v128_t stop = wasm_v128_or(wasm_v128_or(wasm_i8x16_eq(bytes, quote), wasm_i8x16_eq(bytes, backslash)), wasm_u8x16_lt(bytes, space));
    u32 mask = wasm_i8x16_bitmask(stop);
    u32 highs = wasm_i8x16_bitmask(bytes);
    if (mask != 0) {
      u32 n = __builtin_ctz(mask);
      high |= highs & ((1u << n) - 1);
      i += n;
      break;
    }
    high |= highs;
    i += 16;
  }
  if (src[i] != QUOTE || i >= end) return 0;
  if (high != 0 && !validUtf8(src + at + 1, i - at - 1)) return 0;
  return i + 1;
}

// An integer JavaScript prints back digit for digit: at most 15 digits, not `-0`.
static int canonical(const u8 *src, u32 from, u32 to) {
  int negative = src[from] == 0x2d;
  u32 digits = to - from - (negative ? 1 : 0);
  if (digits > 15 || (negative && digits == 1 && src[to - 1] == 0x30)) return 0;
  for (u32 i = negative ? from + 1 : from; i < to; i++) if (!digit(src[i])) return 0;
  return 1;
}

// A JSON number JavaScript prints back byte for byte: see printsAsItself in gelf.ts.
static int printsAsItself(const u8 *src, u32 from, u32 to) {
  u32 at = src[from] == 0x2d ? from + 1 : from;
  u32 intFrom = at;
  while (at < to && digit(src[at])) at++;
  if (at == to) return canonical(src, from, to);
  if (src[at] != 0x2e || src[to - 1] == 0x30) return 0;
  u32 intDigits = at - intFrom;
  u32 fractionFrom = at + 1;
  for (u32 i = fractionFrom; i < to; i++) if (!digit(src[i])) return 0;
  if (intDigits == 1 && src[intFrom] == 0x30) {
    u32 zeros = 0;
    while (src[fractionFrom + zeros] == 0x30) zeros++;
    return zeros <= 5 && to - fractionFrom - zeros <= 15;
  }
  return intDigits + (to - fractionFrom) <= 15;
}

// A JSON number from `at`: the index past it, 0 to refuse. Outside an indexed member (in an array) only
// one JavaScript prints back as it is.
static u32 number(const u8 *src, u32 at, u32 end, int inArray) {
  u32 from = at;
  if (src[at] == 0x2d) at++;
  if (src[at] == 0x30) {
    at++;
  } else {
    u32 digits = at;
    while (at < end && digit(src[at])) at++;
    if (at == digits) return 0;
  }
  if (src[at] == 0x2e) {
    u32 digits = ++at;
    while (at < end && digit(src[at])) at++;
    if (at == digits) return 0;
  }
  if (src[at] == 0x65 || src[at] == 0x45) {
    at++;
    if (src[at] == 0x2b || src[at] == 0x2d) at++;
    u32 digits = at;
    while (at < end && digit(src[at])) at++;
    if (at == digits) return 0;
  }
  if (inArray && !printsAsItself(src, from, at)) return 0;
  return at;
}

static inline int sameBytes(const u8 *a, const u8 *b, u32 n) {
  for (u32 i = 0; i < n; i++) if (a[i] != b[i]) return 0;
  return 1;
}

// Read the line's object and index its members; returns the index past it, 0 to refuse.
static u32 parse(u32 end) {
  const u8 *src = line;
  u32 keyCount = 0;
  u32 level = 0;
  int nestedStack = 0;
  const u32 stack = full + 3;
  frameKeys[0] = 0;
  frameMember[0] = -1;
  frameArray[0] = 0;
  frameIndexed[0] = 1;
  members = 0;
  u32 at = 1;
  int opened = 1;
  for (;;) {
    u8 byte = src[at];
    int32_t member = -2;
    if (opened && byte == (frameArray[level] ? 0x5d : 0x7d)) {
      if (!frameArray[level] && frameMember[level] >= 0) kindOf[frameMember[level]] = EMPTY_OBJECT;
    } else {
      if (!frameArray[level]) {
        if (byte != QUOTE) return 0;
        u32 from = at + 1;
        u32 hash = 0;
        u32 power = 1;
        at = from;
        if (frameIndexed[level]) {
          for (;;) {
            if (at >= end) return 0;
            byte = src[at];
            if (byte == QUOTE) break;
            if (!nameByte(byte)) return 0;
            hash = hash * HASH_BASE + byte;
            power *= HASH_BASE;
            at++;
          }
        } else {
          for (;;) {
            if (at >= end) return 0;
            byte = src[at];
            if (byte == QUOTE) break;
            if (byte < 0x20 || byte >= 0x80 || byte == BACKSLASH) return 0;
            // Only to find a key given twice: no name is made of it, so its power is not needed.
            hash = hash * HASH_BASE + byte;
            at++;
          }
        }
        // An empty key, or one JSON.parse would put first (an array index): refused.
        if (at == from || digit(src[from])) return 0;
        for (u32 i = frameKeys[level]; i < keyCount; i++) if (keyStack[i] == hash) return 0;
        if (keyCount == MAX_MEMBERS) return 0;
        keyStack[keyCount++] = hash;
        if (src[at + 1] != 0x3a) return 0;
        if (frameIndexed[level]) {
          if (members == MAX_MEMBERS) return 0;
          member = (int32_t)members++;
          depthOf[member] = level;
          keyStart[member] = from;
          keyEnd[member] = at;
          keyHash[member] = hash;
          keyPower[member] = power;
          valueStart[member] = at + 2;
          u32 length = at - from;
          if (level == 0) {
            for (u32 i = 0; i < specialCount; i++) {
              if (specialHash[i] == hash && keyLengths[i] == length && sameBytes(src + from, keyBytes + specialAt[i], length)) specialMember[i] = member;
            }
          } else if (level == 1 && specialHash[stack] == hash && keyLengths[stack] == length && sameBytes(src + from, keyBytes + specialAt[stack], length)) {
            nestedStack = 1;
          }
        }
        at += 2;
        byte = src[at];
      }
      if (byte == 0x7b || byte == 0x5b) {
        if (level + 1 > MAX_DEPTH - 4) return 0;
        int array = byte == 0x5b;
        if (member >= 0) kindOf[member] = array ? ARRAY : OBJECT;
        level++;
        frameKeys[level] = keyCount;
        frameMember[level] = member;
        frameArray[level] = (u8)array;
        frameIndexed[level] = !array && member >= 0;
        opened = 1;
        at++;
        continue;
      }
      u8 kind;
      if (byte == QUOTE) {
        kind = STRING;
        at = string(src, at, end);
      } else if (byte == 0x74) {
        kind = TRUE;
        at = src[at + 1] == 0x72 && src[at + 2] == 0x75 && src[at + 3] == 0x65 ? at + 4 : 0;
      } else if (byte == 0x66) {
        kind = FALSE;
        at = src[at + 1] == 0x61 && src[at + 2] == 0x6c && src[at + 3] == 0x73 && src[at + 4] == 0x65 ? at + 5 : 0;
      } else if (byte == 0x6e) {
        kind = NUL;
        at = src[at + 1] == 0x75 && src[at + 2] == 0x6c && src[at + 3] == 0x6c ? at + 4 : 0;
      } else {
        kind = NUMBER;
        at = number(src, at, end, member < 0);
      }
      if (at == 0) return 0;
      if (member >= 0) {
        kindOf[member] = kind;
        valueEnd[member] = at;
      }
      opened = 0;
      byte = src[at];
      if (byte == 0x2c) {
        at++;
        continue;
      }
      if (byte != (frameArray[level] ? 0x5d : 0x7d)) return 0;
    }
    // The container at `level` closes at `at`; then so may the ones it is in.
    for (;;) {
      at++;
      if (!frameArray[level]) keyCount = frameKeys[level];
      int32_t owner = frameMember[level];
      if (level == 0) return nestedStack ? 0 : at;
      level--;
      if (owner >= 0) valueEnd[owner] = at;
      byte = src[at];
      if (byte == 0x2c) {
        at++;
        break;
      }
      if (byte != (frameArray[level] ? 0x5d : 0x7d)) return 0;
    }
    opened = 0;
  }
}

// A canonical integer's value (see canonical).
static int64_t integerOf(u32 member) {
  const u8 *src = line;
  u32 from = valueStart[member];
  u32 to = valueEnd[member];
  int negative = src[from] == 0x2d;
  int64_t value = 0;
  for (u32 i = negative ? from + 1 : from; i < to; i++) value = value * 10 + (src[i] - 0x30);
  return negative ? -value : value;
}

// The first of the special keys [from, to) present and not null, -1 when none is.
static int32_t firstPresent(u32 from, u32 to) {
  for (u32 i = from; i < to; i++) {
    int32_t member = specialMember[i];
    if (member != -1 && kindOf[member] != NUL) return member;
  }
  return -1;
}

static const char *const LEVEL_NAMES[] = {
  "emerg", "emergency", "alert", "crit", "critical", "fatal", "error", "err", "warning", "warn", "notice",
  "info", "informational", "http", "verbose", "debug", "silly", "trace"
};
static const u8 LEVEL_VALUES[] = { 0, 0, 1, 2, 2, 2, 3, 3, 4, 4, 5, 6, 6, 6, 7, 7, 7, 7 };

// The syslog severity of a level name (ASCII, any case) or "0"-"7": 0-7, 8 when none, 9 to refuse.
static u32 namedLevel(const u8 *text, u32 n) {
  if (n == 1 && text[0] >= 0x30 && text[0] <= 0x37) return text[0] - 0x30;
  // What toLowerCase makes of a character past ASCII is JavaScript's to say.
  for (u32 i = 0; i < n; i++) if (text[i] >= 0x80) return 9;
  for (u32 k = 0; k < sizeof(LEVEL_VALUES); k++) {
    const char *name = LEVEL_NAMES[k];
    u32 i = 0;
    while (i < n && name[i] != 0 && (u8)name[i] == (text[i] >= 0x41 && text[i] <= 0x5a ? text[i] + 0x20 : text[i])) i++;
    if (i == n && name[i] == 0) return LEVEL_VALUES[k];
  }
  return 8;
}

// Note a name's hash as written for this line; 0 when it was already (or its hash was: then refused).
static int claimName(u32 hash) {
  u32 slot = hash & (NAME_SLOTS - 1);
  while (nameStamps[slot] == lineStamp) {
    if (nameSlots[slot] == hash) return 0;
    slot = (slot + 1) & (NAME_SLOTS - 1);
  }
  nameStamps[slot] = lineStamp;
  nameSlots[slot] = hash;
  return 1;
}

// `line[from, to)` as a JSON string: the text holds no backslash and no control character, so quotes are
// all there is to escape. Sixteen bytes at a time: the quotes among them found at once, the runs between
// them copied, a backslash before each quote (which goes with the run after it).
static u32 quoted(u32 pos, u32 from, u32 to) {
  const v128_t quote = wasm_i8x16_splat(QUOTE);
  out[pos++] = QUOTE;
  for (u32 i = from; i < to; i += 16) {
    u32 size = to - i < 16 ? to - i : 16;
    u32 quotes = wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(line + i), quote)) & ((1u << size) - 1);
    u32 done = 0;
    while (quotes != 0) {
      u32 at = __builtin_ctz(quotes);
      wasm_v128_store(out + pos, wasm_v128_load(line + i + done));
      pos += at - done;
      out[pos++] = BACKSLASH;
      done = at;
      quotes &= quotes - 1;
    }
    wasm_v128_store(out + pos, wasm_v128_load(line + i + done));
    pos += size - done;
  }
  out[pos++] = QUOTE;
  return pos;
}

__attribute__((export_name("line_buffer")))
u8 *lineBuffer(void) {
  return lineArea;
}

__attribute__((export_name("line_bytes")))
u32 lineBytes(void) {
  return LINE_BYTES;
}

__attribute__((export_name("out_buffer")))
u8 *outBuffer(void) {
  return outArea;
}

__attribute__((export_name("machine_buffer")))
u8 *machineBuffer(void) {
  return machine;
}

__attribute__((export_name("key_buffer")))
u8 *keyBuffer(void) {
  return keyBytes;
}

__attribute__((export_name("key_lengths")))
u32 *keyLengthBuffer(void) {
  return keyLengths;
}

__attribute__((export_name("stamp_buffer")))
u8 *stampBuffer(void) {
  return stamp;
}

static u32 hashOf(const u8 *bytes, u32 n) {
  u32 hash = 0;
  for (u32 i = 0; i < n; i++) hash = hash * HASH_BASE + bytes[i];
  return hash;
}

// The host's name (`machineBytes` in machine_buffer, a JSON string) and `count` special keys (their bytes
// in key_buffer, their lengths in key_lengths, in the order above: `shortCount` of short_message's,
// `hostCount` of host's, then full_message's, level's, `time`, `stack` and the other declined keys).
// Returns 0 when they do not fit; the JavaScript transcoder then does the work.
__attribute__((export_name("configure")))
u32 configure(u32 machineBytes, u32 shortCount, u32 hostCount, u32 count) {
  if (machineBytes > MACHINE_BYTES || count > MAX_SPECIAL || shortCount + hostCount + 4 > count) return 0;
  u32 at = 0;
  for (u32 i = 0; i < count; i++) {
    if (keyLengths[i] > KEY_BYTES - at) return 0;
    specialAt[i] = at;
    specialHash[i] = hashOf(keyBytes + at, keyLengths[i]);
    at += keyLengths[i];
  }
  machineLength = machineBytes;
  specialCount = count;
  hosts = shortCount;
  full = shortCount + hostCount;
  idHash = hashOf((const u8 *)"__id", 4);
  return 1;
}

// The object in line[0, end), a quote at line[end], at the event time `epoch` (milliseconds, see
// timeFromEpoch; its GELF timestamp `stampBytes` of text at `stampText`) to a GELF message at `out`, line
// feed included, within `room`: returns its length, or 0 to refuse. `ownText` (`ownBytes` long, or null)
// is the text the event time was read from: winston's timestamp(), which is the record's `timestamp` too.
static u32 message(u32 end, double epoch, const u8 *stampText, u32 stampBytes, const u8 *ownText, u32 ownBytes) {
  const u8 *src = line;
  if (src[0] != 0x7b) return 0;
  for (u32 i = 0; i < specialCount; i++) specialMember[i] = -1;
  if (parse(end) != end) return 0;

  // GELF's own fields, from the members that feed them. A declined key (an error's stack, a timestamp)
  // or a full_message is the parse path's, as is a message or host that is not a string.
  // With no gelfTimestampKey (the declined keys are `stack` and `timestamp`), a `timestamp` that repeats the
  // text the event time was read from is that time, which the parse path does not send again.
  int32_t fedStamp = -1;
  for (u32 i = full + 3; i < specialCount; i++) {
    int32_t member = specialMember[i];
    if (member == -1) continue;
    if (i == full + 4 && specialCount == full + 5 && ownText != 0 && kindOf[member] == STRING &&
      valueEnd[member] - valueStart[member] == ownBytes + 2 && sameBytes(src + valueStart[member] + 1, ownText, ownBytes)) {
      fedStamp = member;
      continue;
    }
    return 0;
  }
  int32_t fullMember = specialMember[full];
  if (fullMember != -1 && kindOf[fullMember] != NUL) return 0;
  int32_t shortMember = firstPresent(0, hosts);
  if (shortMember != -1 && kindOf[shortMember] != STRING) return 0;
  int32_t host = firstPresent(hosts, full);
  if (host != -1 && kindOf[host] != STRING) return 0;
  int hostConsumed = host != -1 && valueEnd[host] - valueStart[host] > 2;
  int shortVisible = 0;
  if (shortMember != -1) {
    int high = 0;
    for (u32 i = valueStart[shortMember] + 1; i < valueEnd[shortMember] - 1; i++) {
      u8 byte = src[i];
      if (byte >= 0x80) high = 1;
      else if (byte != 0x20) shortVisible = 1;
    }
    // Only Unicode whitespace and spaces: what String#trim takes is the parse path's to judge.
    if (high && !shortVisible) return 0;
  }
  int32_t time = specialMember[full + 2];
  int timeConsumed = 0;
  if (time != -1 && kindOf[time] == NUMBER) {
    if (!canonical(src, valueStart[time], valueEnd[time])) return 0;
    timeConsumed = (double)integerOf(time) == epoch;
  }
  int32_t levelMember = specialMember[full + 1];
  u32 level = 8;
  if (levelMember != -1 && kindOf[levelMember] == NUMBER) {
    if (!canonical(src, valueStart[levelMember], valueEnd[levelMember])) return 0;
    int64_t value = integerOf(levelMember);
    // pino: trace 10 and debug 20 -> debug, info 30, warn 40, error 50, fatal 60 -> critical.
    level = value <= 20 ? 7 : value <= 30 ? 6 : value <= 40 ? 4 : value <= 50 ? 3 : 2;
  } else if (levelMember != -1 && kindOf[levelMember] == STRING) {
    level = namedLevel(src + valueStart[levelMember] + 1, valueEnd[levelMember] - valueStart[levelMember] - 2);
    if (level == 9) return 0;
  }

  u32 pos = put(0, "{\"version\":\"1.1\",\"host\":", 24);
  if (hostConsumed) {
    __builtin_memcpy(out + pos, src + valueStart[host], valueEnd[host] - valueStart[host]);
    pos += valueEnd[host] - valueStart[host];
  } else {
    __builtin_memcpy(out + pos, machine, machineLength);
    pos += machineLength;
  }
  pos = put(pos, ",\"short_message\":", 17);
  if (shortVisible) {
    __builtin_memcpy(out + pos, src + valueStart[shortMember], valueEnd[shortMember] - valueStart[shortMember]);
    pos += valueEnd[shortMember] - valueStart[shortMember];
  } else {
    pos = put(pos, "\"-\"", 3);
  }
  pos = put(pos, ",\"timestamp\":", 13);
  __builtin_memcpy(out + pos, stampText, stampBytes);
  pos += stampBytes;
  if (level < 8) {
    pos = put(pos, ",\"level\":", 9);
    out[pos++] = (u8)(0x30 + level);
  }
  int32_t fedHost = hostConsumed ? host : -1;
  int32_t fedTime = timeConsumed ? time : -1;
  int32_t fedLevel = level < 8 ? levelMember : -1;

  // The other members as additional fields: `_` and the names of their parents and their own, joined by
  // `_`; names that meet once flattened (the parse path numbers them) are refused.
  if (++lineStamp == 0) {
    for (u32 i = 0; i < NAME_SLOTS; i++) nameStamps[i] = 0;
    lineStamp = 1;
  }
  parentLength[0] = 0;
  parentHash[0] = 0;
  for (u32 m = 0; m < members; m++) {
    int32_t member = (int32_t)m;
    u32 depth = depthOf[m];
    if (depth == 0 && (member == shortMember || member == fedHost || member == fedTime || member == fedLevel || member == fedStamp)) continue;
    u8 kind = kindOf[m];
    if (kind == NUL) continue;
    u32 parent = parentLength[depth];
    u32 from = keyStart[m];
    u32 to = keyEnd[m];
    // GELF forbids `_id`: it is `__id` (the name the key `_id` makes too).
    int id = kind != OBJECT && depth == 0 && to - from == 2 && src[from] == 0x69 && src[from + 1] == 0x64;
    u32 hash = id ? idHash : (parentHash[depth] * HASH_BASE + UNDERSCORE) * keyPower[m] + keyHash[m];
    if (kind == OBJECT) {
      names[parent] = UNDERSCORE;
      __builtin_memcpy(names + parent + 1, src + from, to - from);
      parentLength[depth + 1] = parent + 1 + to - from;
      parentHash[depth + 1] = hash;
      continue;
    }
    if (!claimName(hash)) return 0;
    u32 valueFrom = valueStart[m];
    u32 valueTo = valueEnd[m];
    // Quotes at most double a value.
    if ((uint64_t)pos + parent + (to - from) + 2 * (valueTo - valueFrom) + 40 > room) return 0;
    out[pos++] = 0x2c;
    out[pos++] = QUOTE;
    copy(out + pos, names, parent);
    pos += parent;
    out[pos++] = UNDERSCORE;
    if (id) out[pos++] = UNDERSCORE;
    // `key":` and a string, as the line has them.
    if (kind == STRING) {
      copy(out + pos, src + from, valueTo - from);
      pos += valueTo - from;
      continue;
    }
    copy(out + pos, src + from, valueFrom - from);
    pos += valueFrom - from;
    switch (kind) {
      case NUMBER:
        // One JavaScript would print otherwise is the JavaScript transcoder's.
        if (!printsAsItself(src, valueFrom, valueTo)) return 0;
        copy(out + pos, src + valueFrom, valueTo - valueFrom);
        pos += valueTo - valueFrom;
        break;
      case TRUE: case FALSE:
        out[pos++] = QUOTE;
        copy(out + pos, src + valueFrom, valueTo - valueFrom);
        pos += valueTo - valueFrom;
        out[pos++] = QUOTE;
        break;
      case EMPTY_OBJECT:
        pos = put(pos, "\"{}\"", 4);
        break;
      default: // ARRAY: its JSON text, as a string
        pos = quoted(pos, valueFrom, valueTo);
    }
  }
  out[pos++] = 0x7d;
  out[pos++] = 0x0a;
  return pos;
}

// The line in line_buffer (see message()), its GELF timestamp in stamp_buffer, to out_buffer.
__attribute__((export_name("transcode")))
u32 transcode(u32 end, double epoch, u32 stampBytes) {
  if (end > LINE_BYTES || stampBytes > sizeof(stamp)) return 0;
  line = lineArea;
  out = outArea;
  room = OUT_BYTES;
  return message(end, epoch, stamp, stampBytes, 0, 0);
}

static u32 record(u32 at, u32 stop, u8 *to) {
  // Every scan stops at a quote: one after the line bounds them (the line feed it replaces comes back after).
  u8 after = input[stop];
  input[stop] = QUOTE;
  line = input + at;
  out = to;
  room = bound(stop - at);
  u32 size = message(stop - at, headEpoch, head, headLength, lineStamped ? timestampText : 0, timestampLength);
  input[stop] = after;
  return size;
}
