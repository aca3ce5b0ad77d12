// The line loop of the WebAssembly modules that take a piece of pino's output at a time (splice-wasm.c,
// msgpack-wasm.c, gelf-wasm.c): each finds the lines the reader's line path would hand the format's codec
// (ndjson.ts's NdjsonReader: a leading time, no needle in the line) and makes their records, one after another
// in `output` with their `lengths`, for the JavaScript side to queue with one copy. A line it does not take
// goes back to the reader, which takes it as it takes any line; so a module need only agree with the line
// path on the lines it takes. The module that includes this defines, before it:
//
//   INPUT_BYTES, OUTPUT_BYTES  the room for a piece of lines, and for the records a call makes
//   static u32 bound(u32 length)  the most bytes after the head a record of a line of `length` can take
//   static u32 record(u32 at, u32 stop, u8 *to)  the record of line input[at, stop) after the head, written
//     at `to`; returns its bytes after the head, or 0 to hand the line back
//
// and the head (the bytes each record starts with, which the JavaScript side makes for a line's time) is
// written before record() is called; or, where the includer defines HEAD_INSIDE, it is not: record() puts
// `head` where the format has it (GELF's timestamp), and `headEpoch` is the line's time.
//
// Lines are pino's (a JSON object whose time opens it), or with configure_headed(1) the winston transport's
// (ndjson.ts's `headed` framing: `<epoch>\t<timestamp>\t<record>`); of those, only lines whose time is a
// whole millisecond (the epoch's, or with timestamp text the time the JavaScript side reads in it, as the
// reader does) and whose record is written as JSON.stringify writes it (ndjson.ts's isCompactJson) are
// taken, the record alone going to record().

#define LINE_FEED 0x0a
#define CARRIAGE_RETURN 0x0d
#define QUOTE 0x22
#define BACKSLASH 0x5c
#define COMMA 0x2c
#define COLON 0x3a
#define OPEN_BRACE 0x7b
#define CLOSE_BRACE 0x7d
#define OPEN_BRACKET 0x5b
#define CLOSE_BRACKET 0x5d
#define TAB 0x09

// Records a call makes at most.
#define MAX_RECORDS 8192
// The head the JavaScript side makes for a time (the date spliced in, msgpack's event header).
#define HEAD_BYTES 256
// What is looked for in a line to hand it back (index.ts's needles): two at most (configure_needles() takes two).
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
// ...a headed line with timestamp text not read yet (timestamp_at, timestamp_length): the caller gives its
// time with set_timestamp().
#define WANTS_TIMESTAMP 4

// A piece of whole lines, the last ending with a line feed; then room for 16-byte loads (and the quote a
// transcoder may put after a line).
static u8 input[INPUT_BYTES + 16];
// The records, then room for 16-byte stores.
static u8 output[OUTPUT_BYTES + 64];
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
// Whether lines are the winston transport's (see above).
static u32 headed;
// The last timestamp text of a headed line (lines of a burst share one), where it is in the input, and
// its time in milliseconds as the caller read it: -1 when it is not one a line may be taken at, -2 while
// the caller has not said. Longer texts are the reader's.
#define TIMESTAMP_BYTES 64
static u8 timestampText[TIMESTAMP_BYTES];
static u32 timestampLength;
static u32 timestampAt;
static double timestampMs = -2;
// Whether the line headedTime() read last had timestamp text (then timestampText).
static u32 lineStamped;
// Whether each container isCompact() has open is an array.
#define MAX_NESTING 64
static u8 openArrays[MAX_NESTING];

// The bytes of the head run() writes before each record.
#ifdef HEAD_INSIDE
#define HEAD_BEFORE 0
#else
#define HEAD_BEFORE headLength
#endif

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

// ndjson.ts's jsonString: past a string's closing quote, or 0: no raw control character, only JSON's escapes.
static u32 jsonString(u32 at, u32 end) {
  at++;
  for (;;) {
    if (at >= end) return 0;
    u8 byte = input[at];
    if (byte == QUOTE) return at + 1;
    if (byte < 0x20) return 0;
    if (byte == BACKSLASH) {
      u8 escaped = input[at + 1];
      if (escaped == 'u') {
        for (u32 i = 2; i <= 5; i++) {
          u8 hex = input[at + i] | 0x20;
          if (!digit(hex) && !(hex >= 'a' && hex <= 'f')) return 0;
        }
        at += 6;
      } else if (escaped == QUOTE || escaped == BACKSLASH || escaped == '/' || escaped == 'b' || escaped == 'f' ||
        escaped == 'n' || escaped == 'r' || escaped == 't') {
        at += 2;
      } else {
        return 0;
      }
      continue;
    }
    at++;
  }
}

// ndjson.ts's jsonNumber: past a JSON number, or 0.
static u32 jsonNumber(u32 at, u32 end) {
  if (input[at] == '-') at++;
  if (input[at] == '0') {
    at++;
  } else {
    if (!digit(input[at])) return 0;
    while (at < end && digit(input[at])) at++;
  }
  if (input[at] == '.') {
    at++;
    if (!digit(input[at])) return 0;
    while (at < end && digit(input[at])) at++;
  }
  if (input[at] == 'e' || input[at] == 'E') {
    at++;
    if (input[at] == '+' || input[at] == '-') at++;
    if (!digit(input[at])) return 0;
    while (at < end && digit(input[at])) at++;
  }
  return at <= end ? at : 0;
}

static u32 word(u32 at, u32 end, const char *text, u32 length) {
  if (end - at < length) return 0;
  for (u32 i = 0; i < length; i++) if (input[at + i] != (u8)text[i]) return 0;
  return at + length;
}

// ndjson.ts's isCompactJson, to the same answer: whether input[start, end) is a JSON object written with no
// white space, nested at most MAX_NESTING deep.
static int isCompact(u32 start, u32 end) {
  if (input[start] != OPEN_BRACE) return 0;
  u32 at = start + 1;
  u32 depth = 0;
  openArrays[0] = 0;
  int inArray = 0;
  int opened = 1;
  for (;;) {
    u8 byte = input[at];
    if (opened && byte == (inArray ? CLOSE_BRACKET : CLOSE_BRACE)) {
      at++;
      if (depth == 0) return at == end;
      inArray = openArrays[--depth];
    } else {
      if (!inArray) {
        if (byte != QUOTE) return 0;
        at = jsonString(at, end);
        if (at == 0 || input[at] != COLON) return 0;
        byte = input[++at];
      }
      if (byte == QUOTE) {
        at = jsonString(at, end);
      } else if (byte == OPEN_BRACE || byte == OPEN_BRACKET) {
        if (depth == MAX_NESTING - 1) return 0;
        inArray = byte == OPEN_BRACKET;
        openArrays[++depth] = (u8)inArray;
        opened = 1;
        at++;
        continue;
      } else if (byte == 't') {
        at = word(at, end, "true", 4);
      } else if (byte == 'f') {
        at = word(at, end, "false", 5);
      } else if (byte == 'n') {
        at = word(at, end, "null", 4);
      } else {
        at = jsonNumber(at, end);
      }
      if (at == 0) return 0;
    }
    opened = 0;
    for (;;) {
      byte = input[at];
      if (byte == COMMA) {
        at++;
        break;
      }
      if (byte != (inArray ? CLOSE_BRACKET : CLOSE_BRACE)) return 0;
      at++;
      if (depth == 0) return at == end;
      inArray = openArrays[--depth];
    }
  }
}

// A headed line's time in milliseconds, when the reader's line path would offer its record to the codec:
// Date.now()'s digits (whole milliseconds from 1973 on), or the time of its timestamp text; and a compact
// record, which starts at *record. -1 for any other line, which the reader takes; -2 for timestamp text
// whose time the caller has not said (see WANTS_TIMESTAMP).
static double headedTime(u32 at, u32 stop, u32 *record) {
  lineStamped = 0;
  u32 tab = at;
  double ms = 0;
  while (tab < stop && digit(input[tab])) ms = ms * 10 + (input[tab++] - 0x30);
  if (tab == at || tab - at > 15 || tab + 1 >= stop || input[tab] != TAB) return -1;
  u32 next = tab + 1;
  if (input[next] == TAB) {
    if (ms < 1e11) return -1;
  } else {
    while (next < stop && input[next] != TAB && next - tab <= TIMESTAMP_BYTES) next++;
    if (next >= stop || input[next] != TAB) return -1;
    u32 length = next - tab - 1;
    u32 same = length == timestampLength;
    for (u32 i = 0; same && i < length; i++) same = input[tab + 1 + i] == timestampText[i];
    if (!same) {
      for (u32 i = 0; i < length; i++) timestampText[i] = input[tab + 1 + i];
      timestampLength = length;
      timestampMs = -2;
    }
    if (timestampMs == -2) {
      timestampAt = tab + 1;
      return -2;
    }
    // -1 (a time the reader does not offer the codec) is the reader's.
    ms = timestampMs;
    lineStamped = 1;
  }
  if (next + 1 >= stop) return -1;
  *record = next + 1;
  return isCompact(next + 1, stop) ? ms : -1;
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

// The needles, their bytes already in needle_buffer(k): two at most, `second` 0 for one, both for none.
__attribute__((export_name("configure_needles")))
void configureNeedles(u32 first, u32 second) {
  needleLengths[0] = first;
  needleLengths[1] = second;
  needleCount = second > 0 ? 2 : first > 0 ? 1 : 0;
}

// Whether lines are the winston transport's (1) or pino's (0).
__attribute__((export_name("configure_headed")))
void configureHeaded(u32 on) {
  headed = on;
}

// The head in head_buffer() is `length` bytes, for lines of `epoch`.
__attribute__((export_name("set_head")))
void setHead(u32 length, double epoch) {
  headLength = length;
  headEpoch = epoch;
}

__attribute__((export_name("timestamp_at")))
u32 timestampPosition(void) { return timestampAt; }

__attribute__((export_name("timestamp_length")))
u32 timestampBytes(void) { return timestampLength; }

// The time of the timestamp text run() asked about, in milliseconds (-1: not one a line may be taken at).
__attribute__((export_name("set_timestamp")))
void setTimestamp(double ms) {
  timestampMs = ms;
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
    u32 start = at;
    double epoch = headed ? headedTime(at, stop, &start) : leadingTime(at, stop);
    if (epoch == -2) {
      status = WANTS_TIMESTAMP;
      break;
    }
    if (epoch < 0 || hasNeedle(at, stop, n)) {
      status = DECLINED;
      break;
    }
    if (epoch != headEpoch) {
      wantedEpoch = epoch;
      status = WANTS_HEAD;
      break;
    }
    if (count == MAX_RECORDS || total + HEAD_BEFORE + bound(stop - start) > OUTPUT_BYTES) {
      // OUTPUT_BYTES holds a record of any line the module takes: with none made yet, the line is not one.
      status = count == 0 ? DECLINED : FULL;
      break;
    }
    u8 *to = output + total;
    __builtin_memcpy(to, head, HEAD_BEFORE);
    u32 size = record(start, stop, to + HEAD_BEFORE);
    if (size == 0) {
      status = DECLINED;
      break;
    }
    size += HEAD_BEFORE;
    lengths[count++] = (int32_t)size;
    total += size;
    if (size > longest) longest = size;
    at = feed + 1;
  }
  position = at;
  return status;
}
