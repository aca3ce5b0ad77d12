// The JSON formats' line path (ndjson.ts's NdjsonReader with index.ts's splice codec) for a run of lines
// at once, in C for WebAssembly: every line of a piece of pino's output that the JavaScript path would
// splice (its opening time read, no needle in it, an object's braces) is spliced here into one buffer of
// records, with their lengths, and the JavaScript side queues them with one copy. A line it does not
// take, it hands back, and the reader takes it as it takes any line; so the two need only agree on the
// lines this one takes: test/lines.test.ts compares the bytes they queue on random and mutated lines.
//
// The point is the per-record cost in JavaScript, not the bytes: the calls a line made through the reader,
// the codec, the engine and the queue cost about as much as the copying, and more while V8 had not yet
// compiled them (the first hundred thousand lines of a process).
//
// scripts/build-wasm.mjs builds it (clang --target=wasm32, no libc) into src/encoders/splice-wasm.ts.

#include <stdint.h>
#include <wasm_simd128.h>

typedef uint8_t u8;
typedef uint32_t u32;

#define QUOTE 0x22
#define BACKSLASH 0x5c
#define COMMA 0x2c
#define COLON 0x3a
#define OPEN_BRACE 0x7b
#define CLOSE_BRACE 0x7d
#define LINE_FEED 0x0a
#define CARRIAGE_RETURN 0x0d

// The lines a call reads: whole lines, the last ending with a line feed; then room for 16-byte loads.
#define INPUT_BYTES (256 * 1024)
// The records a call writes, and their number at most.
#define OUTPUT_BYTES (256 * 1024)
#define MAX_RECORDS 8192
// The head (the `{` and the date key with its value) the JavaScript side makes for a time.
#define HEAD_BYTES 256
// What is looked for in a line to hand it back (index.ts's needles): two at most (configure() takes two).
#define MAX_NEEDLES 2
#define NEEDLE_BYTES 64

// What run() stopped at: the line at `position` is...
#define DONE 0
// ...the caller's to take (a line feed ends it)
#define DECLINED 1
// ...waiting for the head of `wantedEpoch`
#define WANTS_HEAD 2
// ...not taken: no room left for it (the caller queues the records made, and calls again).
#define FULL 3

static u8 input[INPUT_BYTES + 16];
static u8 output[OUTPUT_BYTES + 16];
static int32_t lengths[MAX_RECORDS];
static u8 head[HEAD_BYTES];
static u32 headLength;
// The epoch the head is for (-1: none yet); a line's epoch is read as JavaScript's leadingTime reads it.
static double headEpoch = -1;
static double wantedEpoch;

static u8 needles[MAX_NEEDLES][NEEDLE_BYTES];
static u32 needleLengths[MAX_NEEDLES];
static u32 needleCount;
// Where each needle next occurs in the input from where it was last looked for (INPUT_BYTES: nowhere),
// once it was looked for in this input.
static u32 needleAt[MAX_NEEDLES];
static u8 needleKnown[MAX_NEEDLES];
static int32_t terminator;

// What a call made and where it stopped.
static u32 count;
static u32 total;
static u32 longest;
static u32 position;

static inline int digit(u8 byte) {
  return byte >= 0x30 && byte <= 0x39;
}

// The next line feed at or after `at`; the input holds one at its end.
static inline u32 lineFeed(u32 at) {
  const v128_t feed = wasm_i8x16_splat(LINE_FEED);
  for (;;) {
    u32 mask = wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(input + at), feed));
    if (mask != 0) return at + __builtin_ctz(mask);
    at += 16;
  }
}

// Where needle `k` next occurs at or after `at` in the first `n` bytes, INPUT_BYTES for nowhere.
static u32 find(u32 k, u32 at, u32 n) {
  const u8 *needle = needles[k];
  u32 length = needleLengths[k];
  const v128_t first = wasm_i8x16_splat(needle[0]);
  while (at + length <= n) {
    u32 mask = wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(input + at), first));
    while (mask != 0) {
      u32 i = at + __builtin_ctz(mask);
      if (i + length > n) return INPUT_BYTES;
      u32 j = 1;
      while (j < length && input[i + j] == needle[j]) j++;
      if (j == length) return i;
      mask &= mask - 1;
    }
    at += 16;
  }
  return INPUT_BYTES;
}

// Whether a needle occurs in [start, stop): each is looked for once past where it was last found.
static int hasNeedle(u32 start, u32 stop, u32 n) {
  int found = 0;
  for (u32 k = 0; k < needleCount; k++) {
    if (!needleKnown[k] || needleAt[k] < start) {
      needleAt[k] = find(k, start, n);
      needleKnown[k] = 1;
    }
    if (needleAt[k] < stop) found = 1;
  }
  return found;
}

// ndjson.ts's leadingTime, to the same number: the integer of a `time` key that opens the line, alone
// or after a `level` key (a number, or a string with no escape); -1 for any other line.
static double leadingTime(u32 start, u32 end) {
  if (input[start] != OPEN_BRACE || input[start + 1] != QUOTE) return -1;
  u32 at = start + 2;
  u8 byte = input[at];
  if (byte == 'l' && end - at >= 7 && input[at + 1] == 'e' && input[at + 2] == 'v' && input[at + 3] == 'e' &&
    input[at + 4] == 'l' && input[at + 5] == QUOTE && input[at + 6] == COLON) {
    at += 7;
    byte = input[at];
    if (byte == QUOTE) {
      for (;;) {
        if (++at >= end) return -1;
        byte = input[at];
        if (byte == QUOTE) break;
        if (byte == BACKSLASH) return -1;
      }
      at++;
    } else {
      u32 first = at;
      while (at < end && digit(byte)) byte = input[++at];
      if (at == first) return -1;
    }
    if (input[at] != COMMA || input[at + 1] != QUOTE) return -1;
    at += 2;
    byte = input[at];
  }
  if (byte != 't' || end - at < 6 || input[at + 1] != 'i' || input[at + 2] != 'm' || input[at + 3] != 'e' ||
    input[at + 4] != QUOTE || input[at + 5] != COLON) return -1;
  at += 6;
  u32 first = at;
  // At most 16 digits, summed in a double as JavaScript does.
  u32 last = end - at > 16 ? at + 16 : end;
  double ms = 0;
  byte = input[at];
  while (at < last && digit(byte)) {
    ms = ms * 10 + (byte - 0x30);
    byte = input[++at];
  }
  if (at == first || (byte != COMMA && byte != CLOSE_BRACE)) return -1;
  return ms;
}

__attribute__((export_name("input_buffer")))
u8 *inputBuffer(void) { return input; }

__attribute__((export_name("input_bytes")))
u32 inputBytes(void) { return INPUT_BYTES; }

__attribute__((export_name("output_buffer")))
u8 *outputBuffer(void) { return output; }

__attribute__((export_name("output_bytes")))
u32 outputBytes(void) { return OUTPUT_BYTES; }

__attribute__((export_name("lengths_buffer")))
int32_t *lengthsBuffer(void) { return lengths; }

__attribute__((export_name("head_buffer")))
u8 *headBuffer(void) { return head; }

__attribute__((export_name("head_bytes")))
u32 headBytes(void) { return HEAD_BYTES; }

__attribute__((export_name("max_records")))
u32 maxRecords(void) { return MAX_RECORDS; }

__attribute__((export_name("needle_bytes")))
u32 needleBytes(void) { return NEEDLE_BYTES; }

__attribute__((export_name("needle_buffer")))
u8 *needleBuffer(u32 k) { return needles[k]; }

// The needles (their bytes already in needle_buffer(k)) and the byte each record ends with (-1: none).
__attribute__((export_name("configure")))
void configure(u32 first, u32 second, int32_t end) {
  needleLengths[0] = first;
  needleLengths[1] = second;
  needleCount = second > 0 ? 2 : first > 0 ? 1 : 0;
  terminator = end;
}

// The head in head_buffer() is `length` bytes, for lines of `epoch`.
__attribute__((export_name("set_head")))
void setHead(u32 length, double epoch) {
  headLength = length;
  headEpoch = epoch;
}

__attribute__((export_name("wanted_epoch")))
double wanted(void) { return wantedEpoch; }

__attribute__((export_name("record_count")))
u32 recordCount(void) { return count; }

__attribute__((export_name("record_bytes")))
u32 recordBytes(void) { return total; }

__attribute__((export_name("longest_record")))
u32 longestRecord(void) { return longest; }

__attribute__((export_name("position")))
u32 stoppedAt(void) { return position; }

// Splice the lines of the input's first `n` bytes from `at` (the last of them a line feed) into records,
// until one it does not take, one that wants another head, or no room; `fresh`: the input is new.
__attribute__((export_name("run")))
u32 run(u32 n, u32 at, u32 fresh) {
  if (fresh) {
    for (u32 k = 0; k < MAX_NEEDLES; k++) needleKnown[k] = 0;
    // Past the end, a line feed bounds every search for one.
    input[n] = LINE_FEED;
  }
  count = 0;
  total = 0;
  longest = 0;
  u32 status = DONE;
  while (at < n) {
    u32 feed = lineFeed(at);
    u32 stop = feed;
    if (stop > at && input[stop - 1] == CARRIAGE_RETURN) stop--;
    if (stop == at) {
      // An empty line: nothing, as in the reader.
      at = feed + 1;
      continue;
    }
    // A fallback file's line (`{"date":"…`, read by the reader) has no leading time either.
    double epoch = leadingTime(at, stop);
    if (epoch < 0 || hasNeedle(at, stop, n) || stop - at <= 2 || input[stop - 1] != CLOSE_BRACE) {
      status = DECLINED;
      break;
    }
    if (epoch != headEpoch) {
      wantedEpoch = epoch;
      status = WANTS_HEAD;
      break;
    }
    // The head takes the place of the line's `{`.
    u32 body = stop - at - 1;
    u32 size = headLength + body + (terminator >= 0 ? 1 : 0);
    if (count == MAX_RECORDS || total + size > OUTPUT_BYTES) {
      status = count == 0 ? DECLINED : FULL;
      break;
    }
    u8 *to = output + total;
    __builtin_memcpy(to, head, headLength);
    __builtin_memcpy(to + headLength, input + at + 1, body);
    if (terminator >= 0) to[size - 1] = (u8)terminator;
    lengths[count++] = (int32_t)size;
    total += size;
    if (size > longest) longest = size;
    at = feed + 1;
  }
  position = at;
  return status;
}
