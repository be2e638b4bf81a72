/*-------------------------------------------------------------------------
 *
 * fhir_lex.h
 *	  Private helpers of the lexical checkers (fhir_types.c, fhir_xhtml.c):
 *	  the failure/success conventions, shared reasons, ASCII character
 *	  classes and word-at-a-time byte tests.
 *
 * Plain C (no PostgreSQL headers), like the checkers themselves.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FHIR_LEX_H
#define FHIR_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* For the few helpers that must be in line wherever they are called. */
#if defined(__GNUC__)
#define FHIR_LEX_INLINE __attribute__((always_inline))
#else
#define FHIR_LEX_INLINE
#endif

/* Record a failure reason (if the caller wants one) and return false. */
#define FAIL(msg) \
	do { \
		if (why) \
			*why = (msg); \
		return false; \
	} while (0)

/* Record success (no reason) and return true. */
#define SUCCEED() \
	do { \
		if (why) \
			*why = NULL; \
		return true; \
	} while (0)

/* Common reasons, shared so that callers can compare pointers if they like. */
static const char R_EMPTY[] = "must not be empty";
static const char R_TOO_LONG[] = "must not be longer than 1 MiB (1048576 characters)";
static const char R_CONTROL[] = "must not contain control characters other than tab, CR and LF";
static const char W_CONTROL[] = "contains control characters (other than tab, CR and LF)";
static const char W_BLANK[] = "should not be only whitespace";

/* Record a warning (the first one wins) when the caller asked for them. */
#define WARN(msg) \
	do { \
		if (warn && *warn == NULL) \
			*warn = (msg); \
	} while (0)

/* ----------------------------------------------------------------
 *		Character classes
 * ----------------------------------------------------------------
 */

/* ASCII decimal digit. */
static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* ASCII lower- or upper-case letter. */
static inline bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ASCII letter or digit. */
static inline bool
is_alnum(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

/* Lower-case hexadecimal digit, as a uuid requires. */
static inline bool
is_lower_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* ASCII whitespace, i.e. the regex class \s (space, tab, LF, VT, FF, CR). */
static inline bool
is_regex_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Whitespace that text may contain: space, tab, CR, LF (also XML's S). */
static inline bool
is_text_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ASCII control character (C0 or DEL). */
static inline bool
is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* The regex class \S as defined above: not whitespace, not a control. */
static inline bool
is_nonspace(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

/* ASCII lower-casing of one byte. */
static inline unsigned char
to_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char) (c - 'A' + 'a') : c;
}

/* True when the n bytes at s[i] exist and are all decimal digits. */
static inline bool
digits_at(const char *s, size_t len, size_t i, size_t n)
{
	size_t		k;

	if (i > len || n > len - i)
		return false;
	for (k = 0; k < n; k++)
		if (!is_digit((unsigned char) s[i + k]))
			return false;
	return true;
}

/* Value of the n (<= 9) decimal digits at s[i]; digits_at() must hold. */
static inline int
digits_value(const char *s, size_t i, size_t n)
{
	int			v = 0;
	size_t		k;

	for (k = 0; k < n; k++)
		v = v * 10 + (s[i + k] - '0');
	return v;
}

/* True when s[i..] starts with the NUL-terminated literal lit. */
static inline bool
has_prefix_at(const char *s, size_t len, size_t i, const char *lit)
{
	size_t		n = strlen(lit);

	return i <= len && n <= len - i && memcmp(s + i, lit, n) == 0;
}


/*
 * True when the n bytes at a and b agree in their first w and their last w
 * bytes (w <= n; w = 2, 4 or 8, a constant where this is in line: plain
 * loads).
 */
static inline FHIR_LEX_INLINE bool
ends_equal(const char *a, const char *b, size_t n, size_t w)
{
	uint64_t	x = 0,
				y = 0,
				u = 0,
				v = 0;

	memcpy(&x, a, w);
	memcpy(&y, b, w);
	memcpy(&u, a + n - w, w);
	memcpy(&v, b + n - w, w);
	return ((x ^ y) | (u ^ v)) == 0;
}

/*
 * True when the n bytes at a and b are equal: short names (a member name,
 * an element name) compared as two overlapping loads of each, without a
 * call to memcmp or a loop over the bytes.
 */
static inline FHIR_LEX_INLINE bool
bytes_equal(const char *a, const char *b, size_t n)
{
	if (n > 16)
		return memcmp(a, b, n) == 0;
	if (n >= 8)
		return ends_equal(a, b, n, 8);
	if (n >= 4)
		return ends_equal(a, b, n, 4);
	if (n >= 2)
		return ends_equal(a, b, n, 2);
	return n == 0 || a[0] == b[0];
}

/* A 64-bit word with every byte equal to c. */
#define WORD_OF(c)		(UINT64_C(0x0101010101010101) * (uint8_t) (c))

/*
 * The bytes of w below n (n <= 128), each marked by its high bit.  Exact
 * for the least significant marked byte (a borrow can only mark more
 * significant bytes than a true one), so "is there one" is always right
 * and "which is the first" on a little-endian machine.
 */
static inline uint64_t
word_mark_less(uint64_t w, uint8_t n)
{
	return (w - WORD_OF(n)) & ~w & WORD_OF(0x80);
}

/* The bytes of w equal to c, marked as by word_mark_less(). */
static inline uint64_t
word_mark_byte(uint64_t w, uint8_t c)
{
	return word_mark_less(w ^ WORD_OF(c), 1);
}

/*
 * The index (0-7, in memory order) of the first byte marked in m (not 0)
 * on a little-endian machine, where borrows run towards later bytes; 0
 * elsewhere (a false mark may come first there), which only makes the
 * caller look at the word's bytes one at a time.
 */
static inline size_t
word_first_marked(uint64_t m)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (size_t) __builtin_ctzll(m) >> 3;
#else
	(void) m;
	return 0;
#endif
}

/*
 * The first n bytes of w as word_first_marked() counts them (n < 8), the
 * others zero.
 */
static inline uint64_t
word_first_bytes(uint64_t w, size_t n)
{
	return w & ((UINT64_C(1) << (8 * n)) - 1);
}

/*
 * True when some byte of w is below n (n <= 128).  Exact as a yes/no
 * answer (borrows can only make it wrong about which byte).
 */
static inline bool
word_has_less(uint64_t w, uint8_t n)
{
	return word_mark_less(w, n) != 0;
}

/* True when some byte of w equals c. */
static inline bool
word_has_byte(uint64_t w, uint8_t c)
{
	return word_has_less(w ^ WORD_OF(c), 1);
}

/* True when some byte of w is an ASCII control character (C0 or DEL). */
static inline bool
word_has_control(uint64_t w)
{
	return word_has_less(w, 0x20) || word_has_byte(w, 0x7f);
}

/*
 * True when some byte of w is a space or an ASCII control character (C0,
 * ' ' or DEL): the bytes that a code or a uri must look at one by one.
 */
static inline bool
word_has_space_or_control(uint64_t w)
{
	return word_has_less(w, 0x21) || word_has_byte(w, 0x7f);
}

#endif							/* FHIR_LEX_H */
