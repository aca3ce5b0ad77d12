// The JSON formats' records of a piece of pino's output at a time, in C for WebAssembly (see lines.h, the
// line loop): the date's head (made by the JavaScript side once a millisecond) takes the place of a line's
// `{`, and the rest of the line follows as it is, then the format's terminator. The reader's line path
// (index.ts's splice codec) makes the same bytes: test/lines.test.ts compares the two on random lines.
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

// Lines of up to 64 KiB, and their records with the date.
#define INPUT_BYTES (64 * 1024)
#define OUTPUT_BYTES (128 * 1024)

// The byte each record ends with (-1: none), set by set_terminator().
static int32_t terminator;

// The line less its `{`, and the terminator.
static u32 bound(u32 length) {
  return length;
}

// The head takes the place of the line's `{`: the rest of the line, then the terminator.
static u32 record(u32 at, u32 stop, u8 *to);

#include "lines.h"

__attribute__((export_name("set_terminator")))
void setTerminator(int32_t end) {
  terminator = end;
}

static u32 record(u32 at, u32 stop, u8 *to) {
  if (stop - at <= 2 || input[stop - 1] != CLOSE_BRACE) return 0;
  u32 body = stop - at - 1;
  __builtin_memcpy(to, input + at + 1, body);
  if (terminator < 0) return body;
  to[body] = (u8)terminator;
  return body + 1;
}
