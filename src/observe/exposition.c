/*
 * src/observe/exposition.c
 *	  geoshard's metrics in the Prometheus text exposition format, version
 *	  0.0.4: a HELP and a TYPE line per family, then its samples.
 *
 * Runs in the metrics worker's HTTP thread, which is not a PostgreSQL
 * backend: the text is built with malloc/realloc, and running out of memory
 * is a NULL result, never an ERROR.
 */
#include "postgres.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "observe/exposition.h"
#include "observe/metrics.h"

typedef struct TextSink
{
	MetricsSink sink;
	char	   *data;			/* malloc'd; NULL after a failed allocation */
	size_t		len;
	size_t		cap;
	const char *name;			/* the current family */
} TextSink;

/* Make room for n more bytes and the NUL; false when out of memory. */
static bool
TextReserve(TextSink *t, size_t n)
{
	size_t		cap;
	char	   *data;

	if (t->data == NULL)
		return false;
	if (t->len + n + 1 <= t->cap)
		return true;
	cap = Max(t->cap * 2, t->len + n + 1);
	data = realloc(t->data, cap);
	if (data == NULL)
	{
		free(t->data);
		t->data = NULL;
		return false;
	}
	t->data = data;
	t->cap = cap;
	return true;
}

static void
TextAppend(TextSink *t, const char *s, size_t n)
{
	if (!TextReserve(t, n))
		return;
	memcpy(t->data + t->len, s, n);
	t->len += n;
	t->data[t->len] = '\0';
}

static void
TextAppendString(TextSink *t, const char *s)
{
	TextAppend(t, s, strlen(s));
}

/*
 * Append s escaped as the format wants: backslash and newline always, the
 * double quote too inside label values.
 */
static void
TextAppendEscaped(TextSink *t, const char *s, bool quote)
{
	for (; *s; s++)
	{
		if (*s == '\\')
			TextAppend(t, "\\\\", 2);
		else if (*s == '\n')
			TextAppend(t, "\\n", 2);
		else if (*s == '"' && quote)
			TextAppend(t, "\\\"", 2);
		else
			TextAppend(t, s, 1);
	}
}

static void
TextFamily(MetricsSink *sink, const char *name, MetricType type, const char *help)
{
	TextSink   *t = (TextSink *) sink;

	t->name = name;
	TextAppendString(t, "# HELP ");
	TextAppendString(t, name);
	TextAppend(t, " ", 1);
	TextAppendEscaped(t, help, false);
	TextAppendString(t, "\n# TYPE ");
	TextAppendString(t, name);
	TextAppend(t, " ", 1);
	TextAppendString(t, MetricTypeName(type));
	TextAppend(t, "\n", 1);
}

static void
TextSample(MetricsSink *sink, const char *suffix, const MetricLabel *labels, int nlabels,
		   double value)
{
	TextSink   *t = (TextSink *) sink;
	char		number[64];

	TextAppendString(t, t->name);
	TextAppendString(t, suffix);
	if (nlabels > 0)
	{
		TextAppend(t, "{", 1);
		for (int i = 0; i < nlabels; i++)
		{
			if (i > 0)
				TextAppend(t, ",", 1);
			TextAppendString(t, labels[i].name);
			TextAppend(t, "=\"", 2);
			TextAppendEscaped(t, labels[i].value, true);
			TextAppend(t, "\"", 1);
		}
		TextAppend(t, "}", 1);
	}
	if (isnan(value))
		strlcpy(number, "NaN", sizeof(number));
	else if (isinf(value))
		strlcpy(number, value > 0 ? "+Inf" : "-Inf", sizeof(number));
	else if (value == floor(value) && fabs(value) < 1e15)
		snprintf(number, sizeof(number), "%.0f", value);
	else
		snprintf(number, sizeof(number), "%.15g", value);
	TextAppend(t, " ", 1);
	TextAppendString(t, number);
	TextAppend(t, "\n", 1);
}

/*
 * Every family, from a snapshot (metrics.c), as text in a malloc'd buffer
 * the caller frees; its length in *len.  NULL when out of memory.
 */
char *
MetricsFormatText(const void *snapshot, size_t *len)
{
	TextSink	t;

	memset(&t, 0, sizeof(t));
	t.sink.family = TextFamily;
	t.sink.sample = TextSample;
	t.cap = 16384;
	t.data = malloc(t.cap);
	if (t.data == NULL)
		return NULL;
	t.data[0] = '\0';
	MetricsEmit(&t.sink, snapshot);
	*len = t.len;
	return t.data;
}
