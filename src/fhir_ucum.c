/*-------------------------------------------------------------------------
 *
 * fhir_ucum.c
 *	  UCUM unit codes reduced to a factor and base-unit exponents.
 *
 * The grammar read is UCUM's case-sensitive syntax (ucum.org, section 2):
 *
 *	  term		:= ["/"] component { ("." | "/") component }
 *	  component := "(" term ")" | simple [exponent] [annotation]
 *				   | annotation | digits
 *	  simple	:= atom | prefix metric-atom
 *
 * with atoms and prefixes from the tables generated from ucum-essence.xml.
 * Brackets inside an atom ("[in_i]", "[in_i'H2O]") are read as part of it.
 * Parentheses nest at most MAX_NESTING deep and a code is at most
 * MAX_UNIT_LEN bytes, so the (recursive) parser is bounded.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fhir_ucum.h"
#include "fhir_ucum_tables.h"

#define MAX_NESTING		8
#define MAX_UNIT_LEN	256
#define MAX_EXPONENT	99

/* A parse in progress over s[0 .. len). */
typedef struct UcumParse
{
	const char *s;
	size_t		len;
	size_t		pos;
	int			nesting;
} UcumParse;

static bool parse_term(UcumParse *p, FhirUcumUnit *out);

/* Orders an atom code (s, n) against a table entry, for bsearch. */
static int
atom_cmp(const char *s, size_t n, const char *code)
{
	size_t		k;

	for (k = 0; k < n; k++)
	{
		if (code[k] == '\0')
			return 1;
		if ((unsigned char) s[k] != (unsigned char) code[k])
			return (unsigned char) s[k] - (unsigned char) code[k];
	}
	return code[n] == '\0' ? 0 : -1;
}

/* The atom named (s, n), or NULL. */
static const UcumAtom *
find_atom(const char *s, size_t n)
{
	size_t		lo = 0,
				hi = sizeof(ucum_atoms) / sizeof(ucum_atoms[0]);

	while (lo < hi)
	{
		size_t		mid = (lo + hi) / 2;
		int			c = atom_cmp(s, n, ucum_atoms[mid].code);

		if (c == 0)
			return &ucum_atoms[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The factor of the prefix named (s, n), or 0. */
static double
find_prefix(const char *s, size_t n)
{
	size_t		k;

	for (k = 0; k < sizeof(ucum_prefixes) / sizeof(ucum_prefixes[0]); k++)
		if (strlen(ucum_prefixes[k].code) == n &&
			memcmp(ucum_prefixes[k].code, s, n) == 0)
			return ucum_prefixes[k].factor;
	return 0;
}

/* The unit of no dimension and factor f. */
static void
set_number(FhirUcumUnit *u, double f)
{
	memset(u->dims, 0, sizeof(u->dims));
	u->factor = f;
}

/*
 * A simple unit (s, n): an atom, or a prefix and a metric atom, then an
 * optional exponent; or a string of digits (a factor).
 */
static bool
parse_simple(const char *s, size_t n, FhirUcumUnit *out)
{
	size_t		k = n;
	long		exp = 1;
	const UcumAtom *a;
	double		factor = 1;
	int			d;

	if (n == 0)
		return false;
	for (k = 0; k < n && s[k] >= '0' && s[k] <= '9'; k++)
		;
	if (k == n)
	{
		/* digits only: a factor */
		double		v = 0;

		for (k = 0; k < n; k++)
			v = v * 10 + (s[k] - '0');
		set_number(out, v);
		return v > 0;
	}
	/* trailing exponent: [+-]digits after the atom */
	k = n;
	while (k > 0 && s[k - 1] >= '0' && s[k - 1] <= '9')
		k--;
	if (k > 0 && k < n && (s[k - 1] == '+' || s[k - 1] == '-'))
		k--;
	if (k == 0)
		return false;
	if (k < n)
	{
		char	   *end;
		char		buf[8];

		if (n - k >= sizeof(buf))
			return false;
		memcpy(buf, s + k, n - k);
		buf[n - k] = '\0';
		exp = strtol(buf, &end, 10);
		if (*end != '\0' || exp == 0 || exp > MAX_EXPONENT || exp < -MAX_EXPONENT)
			return false;
	}
	a = find_atom(s, k);
	if (a == NULL)
	{
		/* a prefix (two letters, "da", first) and a metric atom */
		size_t		plen;

		for (plen = 2; plen >= 1; plen--)
		{
			double		pf;

			if (plen >= k)
				continue;
			pf = find_prefix(s, plen);
			if (pf == 0)
				continue;
			a = find_atom(s + plen, k - plen);
			if (a != NULL && a->metric)
			{
				factor = pf;
				break;
			}
			a = NULL;
		}
	}
	if (a == NULL || !a->comparable)
		return false;
	factor *= a->factor;
	out->factor = pow(factor, (double) exp);
	for (d = 0; d < FHIR_UCUM_NDIMS; d++)
		out->dims[d] = (int8_t) (a->dims[d] * exp);
	return isfinite(out->factor) && out->factor > 0;
}

/* One component at p->pos: a parenthesised term, a simple unit, an annotation. */
static bool
parse_component(UcumParse *p, FhirUcumUnit *out)
{
	size_t		start = p->pos;
	int			depth = 0;

	if (p->pos < p->len && p->s[p->pos] == '(')
	{
		bool		ok;

		if (++p->nesting > MAX_NESTING)
			return false;
		p->pos++;
		ok = parse_term(p, out);
		p->nesting--;
		if (!ok || p->pos >= p->len || p->s[p->pos] != ')')
			return false;
		p->pos++;
		return true;
	}
	while (p->pos < p->len)
	{
		char		c = p->s[p->pos];

		if (c == '[')
			depth++;
		else if (c == ']')
			depth--;
		else if (depth == 0 && (c == '.' || c == '/' || c == '(' || c == ')' || c == '{'))
			break;
		p->pos++;
	}
	if (depth != 0)
		return false;
	if (p->pos < p->len && p->s[p->pos] == '{')
	{
		const char *end = memchr(p->s + p->pos, '}', p->len - p->pos);
		size_t		tok = p->pos - start;

		if (end == NULL)
			return false;
		p->pos = (size_t) (end - p->s) + 1;
		if (tok == 0)
		{
			set_number(out, 1);		/* an annotation alone is unity */
			return true;
		}
		return parse_simple(p->s + start, tok, out);
	}
	return parse_simple(p->s + start, p->pos - start, out);
}

/* A term at p->pos: components joined by '.' and '/'. */
static bool
parse_term(UcumParse *p, FhirUcumUnit *out)
{
	bool		divide = false;
	int			d;

	set_number(out, 1);
	if (p->pos < p->len && p->s[p->pos] == '/')
	{
		divide = true;
		p->pos++;
	}
	for (;;)
	{
		FhirUcumUnit c;

		if (!parse_component(p, &c))
			return false;
		if (divide)
			out->factor /= c.factor;
		else
			out->factor *= c.factor;
		for (d = 0; d < FHIR_UCUM_NDIMS; d++)
		{
			int			v = out->dims[d] + (divide ? -c.dims[d] : c.dims[d]);

			if (v > 127 || v < -127)
				return false;
			out->dims[d] = (int8_t) v;
		}
		if (!isfinite(out->factor) || out->factor <= 0)
			return false;
		if (p->pos < p->len && (p->s[p->pos] == '.' || p->s[p->pos] == '/'))
		{
			divide = p->s[p->pos] == '/';
			p->pos++;
			continue;
		}
		return true;
	}
}

/* Reduces a UCUM code to base units (see fhir_ucum.h). */
bool
fhir_ucum_reduce(const char *s, size_t len, FhirUcumUnit *out)
{
	UcumParse	p;

	if (len == 0 || len > MAX_UNIT_LEN)
		return false;
	p.s = s;
	p.len = len;
	p.pos = 0;
	p.nesting = 0;
	return parse_term(&p, out) && p.pos == len;
}

/* True when two reduced units have the same base-unit exponents. */
bool
fhir_ucum_commensurable(const FhirUcumUnit *a, const FhirUcumUnit *b)
{
	return memcmp(a->dims, b->dims, sizeof(a->dims)) == 0;
}
