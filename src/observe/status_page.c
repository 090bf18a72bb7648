/*
 * src/observe/status_page.c
 *	  The status page at /: every region on a world map (SVG), coloured by
 *	  its breaker state and sized by its load, a table of the regions, the
 *	  top routing reasons of the last minute, the Raft members with the
 *	  leader marked, and the lag of each CDC sink and Redis view; it reloads
 *	  itself every 5 s.
 *
 * One self-contained page: no script, no external asset, so that it works
 * on an isolated network and gives nothing to inject into.  The map is an
 * equirectangular projection whose land is drawn as one soft disc per
 * country (country_points.c: a representative point and the country's
 * reach), under a 30-degree graticule.  Every region carries
 * data-region and data-state attributes, on its dot and on its table row,
 * and so do Raft members (data-node, data-role, data-leader), sinks
 * (data-sink) and views (data-view), for scripts and tests.
 *
 * Built in the metrics worker's HTTP thread, which is not a backend: from
 * the published snapshot only, with malloc (NULL when out of memory).
 */
#include "postgres.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <raft.h>

#include "observe/metrics.h"
#include "observe/status_page.h"
#include "raft/raft_shmem.h"
#include "routing/country.h"

#define MAP_W		1000.0
#define MAP_H		500.0
#define KM_PER_DEG	111.2

typedef struct HtmlPage
{
	char	   *data;			/* malloc'd; NULL after a failed allocation */
	size_t		len;
	size_t		cap;
} HtmlPage;

/* Append formatted text; on a failed allocation the page becomes NULL. */
static void pg_attribute_printf(2, 3)
PageAppend(HtmlPage *p, const char *fmt,...)
{
	va_list		args;
	int			n;

	if (p->data == NULL)
		return;
	va_start(args, fmt);
	n = vsnprintf(p->data + p->len, p->cap - p->len, fmt, args);
	va_end(args);
	if (n < 0)
	{
		free(p->data);
		p->data = NULL;
		return;
	}
	if (p->len + n + 1 > p->cap)
	{
		size_t		cap = Max(p->cap * 2, p->len + n + 1);
		char	   *data = realloc(p->data, cap);

		if (data == NULL)
		{
			free(p->data);
			p->data = NULL;
			return;
		}
		p->data = data;
		p->cap = cap;
		va_start(args, fmt);
		n = vsnprintf(p->data + p->len, p->cap - p->len, fmt, args);
		va_end(args);
	}
	p->len += n;
}

/* s, with the five HTML special characters escaped, into out (size outlen) */
static const char *
Html(const char *s, char *out, size_t outlen)
{
	size_t		o = 0;

	for (; *s && o + 7 < outlen; s++)
	{
		const char *e = NULL;

		switch (*s)
		{
			case '&':
				e = "&amp;";
				break;
			case '<':
				e = "&lt;";
				break;
			case '>':
				e = "&gt;";
				break;
			case '"':
				e = "&quot;";
				break;
			case '\'':
				e = "&#39;";
				break;
		}
		if (e != NULL)
		{
			strcpy(out + o, e);
			o += strlen(e);
		}
		else
			out[o++] = *s;
	}
	out[o] = '\0';
	return out;
}

/* one region: what routing and the health worker know of it */
typedef struct PageRegion
{
	const RoutingSnapshotRegion *routing;
	const HealthRegionMetrics *health;	/* NULL: not known to the health worker */
} PageRegion;

static const HealthRegionMetrics *
PageFindHealth(const HealthSnapshot *health, const char *id)
{
	for (int i = 0; i < health->nregions; i++)
		if (strcmp(health->regions[i].id, id) == 0)
			return &health->regions[i];
	return NULL;
}

/* the state a region is shown in: its breaker, or disabled / drained */
static const char *
PageState(const PageRegion *r)
{
	if (!r->routing->enabled)
		return "disabled";
	if (r->routing->drained)
		return "drained";
	return r->health != NULL ? RoutingBreakerName((RoutingBreaker) r->health->state) : "closed";
}

static void
PageMap(HtmlPage *p, const PageRegion *regions, int n)
{
	char		id[ROUTING_NAME_LEN * 6];

	PageAppend(p, "<svg id=\"map\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"regions on a world map\">\n",
			   MAP_W, MAP_H);
	PageAppend(p, "<rect width=\"%.0f\" height=\"%.0f\" class=\"sea\"/>\n", MAP_W, MAP_H);
	PageAppend(p, "<g class=\"land\">");
	for (int i = 0; i < CountryPointCount; i++)
	{
		const CountryPoint *c = &CountryPoints[i];
		double		r;

		if (!c->has_point)
			continue;
		/* a share of the reach, capped: the largest would cover oceans */
		r = Min(Max(c->radius_km * 0.4, 100.0), 1000.0) / KM_PER_DEG * MAP_W / 360.0;
		PageAppend(p, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"/>",
				   (c->lon + 180.0) / 360.0 * MAP_W, (90.0 - c->lat) / 180.0 * MAP_H, r);
	}
	PageAppend(p, "</g>\n<g class=\"grid\">");
	for (int lon = -150; lon <= 150; lon += 30)
		PageAppend(p, "<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%.0f\"/>",
				   (lon + 180.0) / 360.0 * MAP_W, (lon + 180.0) / 360.0 * MAP_W, MAP_H);
	for (int lat = -60; lat <= 60; lat += 30)
		PageAppend(p, "<line x1=\"0\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>",
				   (90.0 - lat) / 180.0 * MAP_H, MAP_W, (90.0 - lat) / 180.0 * MAP_H);
	PageAppend(p, "</g>\n<g class=\"regions\">\n");
	for (int i = 0; i < n; i++)
	{
		const RoutingSnapshotRegion *r = regions[i].routing;
		double		x = (r->lon + 180.0) / 360.0 * MAP_W;
		double		y = (90.0 - r->lat) / 180.0 * MAP_H;
		double		load = isfinite(r->load_fraction) ? Min(Max(r->load_fraction, 0.0), 2.0) : 2.0;
		const char *state = PageState(&regions[i]);

		Html(r->id, id, sizeof(id));
		PageAppend(p, "<g class=\"region %s\" data-region=\"%s\" data-state=\"%s\">", state, id, state);
		PageAppend(p, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"><title>%s: %s, load %.0f%%</title></circle>",
				   x, y, 5.0 + 8.0 * load, id, state, 100.0 * r->load_fraction);
		PageAppend(p, "<text x=\"%.1f\" y=\"%.1f\">%s</text></g>\n", x + 9.0 + 8.0 * load, y + 4.0, id);
	}
	PageAppend(p, "</g>\n</svg>\n");
}

static void
PageTable(HtmlPage *p, const PageRegion *regions, int n)
{
	char		id[ROUTING_NAME_LEN * 6];

	PageAppend(p, "<table id=\"regions\"><thead><tr><th>region</th><th>state</th><th>load</th>"
			   "<th>probes</th><th>failed</th><th>mean probe</th></tr></thead><tbody>\n");
	for (int i = 0; i < n; i++)
	{
		const RoutingSnapshotRegion *r = regions[i].routing;
		const HealthRegionMetrics *h = regions[i].health;
		const char *state = PageState(&regions[i]);
		uint64		ok = h != NULL ? h->counters.probes - h->counters.failures : 0;

		Html(r->id, id, sizeof(id));
		PageAppend(p, "<tr data-region=\"%s\" data-state=\"%s\"><td>%s%s</td><td class=\"%s\">%s</td><td>%.0f%%</td>",
				   id, state, id, h != NULL && h->forced ? " (forced)" : "", state, state,
				   100.0 * r->load_fraction);
		if (h != NULL && h->probed)
		{
			PageAppend(p, "<td>" UINT64_FORMAT "</td><td>" UINT64_FORMAT "</td>",
					   h->counters.probes, h->counters.failures);
			if (ok > 0)
				PageAppend(p, "<td>%.1f ms</td></tr>\n", 1000.0 * h->counters.rtt_sum_s / ok);
			else
				PageAppend(p, "<td>-</td></tr>\n");
		}
		else
			PageAppend(p, "<td colspan=\"3\">not probed</td></tr>\n");
	}
	PageAppend(p, "</tbody></table>\n");
}

/* the reasons of the last window_s seconds, most frequent first */
static void
PageReasons(HtmlPage *p, const uint64 *recent, int window_s)
{
	int			order[ROUTE_REASON_COUNT];
	uint64		total = 0;
	int			shown = 0;

	for (int i = 0; i < ROUTE_REASON_COUNT; i++)
	{
		order[i] = i;
		total += recent[i];
	}
	/* insertion sort: 14 entries */
	for (int i = 1; i < ROUTE_REASON_COUNT; i++)
		for (int j = i; j > 0 && recent[order[j]] > recent[order[j - 1]]; j--)
		{
			int			t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}

	PageAppend(p, "<section id=\"reasons\"><h2>Routing reasons, last %d s</h2>\n", window_s);
	if (total == 0)
		PageAppend(p, "<p>No route_region calls.</p>\n");
	for (int i = 0; i < ROUTE_REASON_COUNT && recent[order[i]] > 0 && shown < 6; i++, shown++)
	{
		const char *name = RouteReasonName((RouteReasonCode) order[i]);

		PageAppend(p, "<div class=\"bar\" data-reason=\"%s\"><span class=\"name\">%s</span>"
				   "<span class=\"fill\" style=\"width:%.1f%%\"></span><span class=\"n\">" UINT64_FORMAT "</span></div>\n",
				   name, name, 60.0 * recent[order[i]] / total, recent[order[i]]);
	}
	PageAppend(p, "</section>\n");
}

/* n bytes, in B, kB, MB or GB (1024-based, as pg_size_pretty) */
static const char *
PageBytes(uint64 n, char *out, size_t outlen)
{
	if (n < 10 * 1024)
		snprintf(out, outlen, UINT64_FORMAT " B", n);
	else if (n < (uint64) 10 * 1024 * 1024)
		snprintf(out, outlen, "%.0f kB", n / 1024.0);
	else if (n < (uint64) 10 * 1024 * 1024 * 1024)
		snprintf(out, outlen, "%.0f MB", n / (1024.0 * 1024.0));
	else
		snprintf(out, outlen, "%.1f GB", n / (1024.0 * 1024.0 * 1024.0));
	return out;
}

/*
 * The Raft members this node knows: itself and its peers, the leader
 * marked.  A peer's role is what this node can tell: leader, or member.
 */
static void
PageRaft(HtmlPage *p, const RaftSnapshot *raft)
{
	PageAppend(p, "<section id=\"raft\"><h2>Raft</h2>\n");
	if (!raft->in_group)
	{
		PageAppend(p, "<p class=\"muted\">This node is in no Raft group.</p></section>\n");
		return;
	}
	PageAppend(p, "<p>term " UINT64_FORMAT ", commit " UINT64_FORMAT ", applied " UINT64_FORMAT
			   ", leader changes " UINT64_FORMAT "</p>\n",
			   raft->term, raft->commit_index, raft->applied_index, raft->leader_changes);
	if (raft->leader == 0)
		PageAppend(p, "<p id=\"no-leader\" class=\"open\">no leader known</p>\n");
	PageAppend(p, "<table id=\"raft-members\"><thead><tr><th>node</th><th>role</th><th>link</th></tr></thead><tbody>\n");
	PageAppend(p, "<tr data-node=\"" UINT64_FORMAT "\" data-role=\"%s\"%s><td>" UINT64_FORMAT " (this node)%s</td>"
			   "<td>%s</td><td>-</td></tr>\n",
			   raft->node_id, RaftRoleName(raft->state),
			   raft->leader == raft->node_id ? " data-leader=\"true\"" : "", raft->node_id,
			   raft->leader == raft->node_id ? " <span class=\"leader\">&#9733; leader</span>" : "",
			   RaftRoleName(raft->state));
	for (int i = 0; i < raft->npeers; i++)
	{
		const RaftSnapshotPeer *peer = &raft->peers[i];
		bool		leads = peer->id == raft->leader;

		PageAppend(p, "<tr data-node=\"" UINT64_FORMAT "\" data-role=\"%s\"%s><td>" UINT64_FORMAT "%s</td>"
				   "<td>%s</td><td class=\"%s\">%s",
				   peer->id, leads ? "leader" : "member", leads ? " data-leader=\"true\"" : "", peer->id,
				   leads ? " <span class=\"leader\">&#9733; leader</span>" : "",
				   leads ? "leader" : "member", peer->connected ? "connected" : "disconnected",
				   peer->connected ? "connected" : "disconnected");
		if (peer->connected && peer->last_rtt_s > 0)
			PageAppend(p, ", %.1f ms", 1000.0 * peer->last_rtt_s);
		PageAppend(p, "</td></tr>\n");
	}
	PageAppend(p, "</tbody></table></section>\n");
}

/* seconds behind, as text */
static const char *
PageLag(double lag_s, char *out, size_t outlen)
{
	if (lag_s <= 0)
		strlcpy(out, "caught up", outlen);
	else if (lag_s < 120)
		snprintf(out, outlen, "%.1f s", lag_s);
	else
		snprintf(out, outlen, "%.0f min", lag_s / 60.0);
	return out;
}

/* CDC sinks: how far behind each is, in time and WAL, and what its slot keeps */
static void
PageCdc(HtmlPage *p, const CdcSnapshot *cdc)
{
	char		name[NAMEDATALEN * 6];
	char		lag[32];
	char		bytes[32];
	char		retained[32];

	PageAppend(p, "<section id=\"cdc\"><h2>CDC sinks</h2>\n");
	if (cdc->nsinks == 0)
	{
		PageAppend(p, "<p class=\"muted\">No CDC sink.</p></section>\n");
		return;
	}
	PageAppend(p, "<table id=\"cdc-sinks\"><thead><tr><th>sink</th><th>state</th><th>lag</th>"
			   "<th>WAL behind</th><th>WAL kept</th><th>errors</th></tr></thead><tbody>\n");
	for (int i = 0; i < cdc->nsinks; i++)
	{
		const CdcSnapshotSink *s = &cdc->sinks[i];
		const char *state = CdcStateName(s->state);

		Html(s->sink, name, sizeof(name));
		PageAppend(p, "<tr data-sink=\"%s\" data-state=\"%s\" data-lag-seconds=\"%.3f\"><td>%s</td>"
				   "<td class=\"%s\">%s</td><td>%s</td><td>%s</td><td>%s</td><td>" UINT64_FORMAT "</td></tr>\n",
				   name, state, s->lag_s, name, state, state, PageLag(s->lag_s, lag, sizeof(lag)),
				   s->has_slot ? PageBytes(s->lag_bytes, bytes, sizeof(bytes)) : "no slot",
				   s->has_slot ? PageBytes(s->retained_bytes, retained, sizeof(retained)) : "-",
				   s->errors);
	}
	PageAppend(p, "</tbody></table></section>\n");
}

/* Redis views: how far behind each is, and how big */
static void
PageViews(HtmlPage *p, const RedisViewSnapshot *rv)
{
	char		name[NAMEDATALEN * 6];
	char		lag[32];
	char		bytes[32];

	PageAppend(p, "<section id=\"views\"><h2>Redis views</h2>\n");
	if (rv->nviews == 0)
	{
		PageAppend(p, "<p class=\"muted\">No Redis view.</p></section>\n");
		return;
	}
	PageAppend(p, "<table id=\"redis-views\"><thead><tr><th>view</th><th>state</th><th>lag</th>"
			   "<th>WAL behind</th><th>keys</th><th>errors</th></tr></thead><tbody>\n");
	for (int i = 0; i < rv->nviews; i++)
	{
		const RedisViewSnapshotView *v = &rv->views[i];
		const char *state = RedisViewStateName(v->state);

		Html(v->view, name, sizeof(name));
		PageAppend(p, "<tr data-view=\"%s\" data-state=\"%s\" data-lag-seconds=\"%.3f\"><td>%s</td>"
				   "<td class=\"%s\">%s</td><td>%s</td><td>%s</td><td>" INT64_FORMAT "</td><td>" UINT64_FORMAT "</td></tr>\n",
				   name, state, v->lag_s, name, state, state, PageLag(v->lag_s, lag, sizeof(lag)),
				   PageBytes(v->lag_bytes, bytes, sizeof(bytes)), v->keys, v->errors);
	}
	PageAppend(p, "</tbody></table></section>\n");
}

/*
 * The page, in a malloc'd buffer the caller frees (NULL when out of
 * memory): recent_reasons[ROUTE_REASON_COUNT] are the route_region calls
 * of the last window_s seconds by reason.
 */
char *
StatusPageFormat(const void *snapshot, const uint64 *recent_reasons, int window_s, size_t *len)
{
	const RoutingSnapshot *routing = MetricsAreaSnapshot(snapshot, "routing");
	const HealthSnapshot *health = MetricsAreaSnapshot(snapshot, "health");
	PageRegion *regions = malloc(sizeof(PageRegion) * ROUTING_MAX_REGIONS);
	int			n = routing->nregions;
	int			counts[4] = {0};
	HtmlPage		p = {0};

	if (regions == NULL)
		return NULL;
	for (int i = 0; i < n; i++)
	{
		regions[i].routing = &routing->regions[i];
		regions[i].health = PageFindHealth(health, routing->regions[i].id);
		counts[strcmp(PageState(&regions[i]), "closed") == 0 ? 0 :
			   strcmp(PageState(&regions[i]), "half_open") == 0 ? 1 :
			   strcmp(PageState(&regions[i]), "open") == 0 ? 2 : 3]++;
	}

	p.cap = 65536;
	p.data = malloc(p.cap);
	PageAppend(&p, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			   "<meta http-equiv=\"refresh\" content=\"5\">"
			   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
			   "<title>geoshard status</title>\n<style>\n"
			   "body{margin:0;font:14px/1.4 system-ui,sans-serif;background:#0f1720;color:#dde4ea}"
			   "header{display:flex;gap:1.5em;align-items:baseline;padding:.8em 1.2em;background:#16212d}"
			   "h1{font-size:20px;margin:0}h2{font-size:15px;margin:.2em 0 .6em}"
			   "main{display:grid;grid-template-columns:minmax(0,5fr) minmax(28em,2fr);gap:1em;padding:1em}"
			   "svg{width:100%%;height:auto;border-radius:6px}.sea{fill:#122334}"
			   ".land circle{fill:#2a3d50;opacity:.55}.grid line{stroke:#2c4257;stroke-width:.5}"
			   ".region circle{stroke:#0f1720;stroke-width:1.5;opacity:.9}.region text{fill:#dde4ea;font-size:12px}"
			   ".closed circle{fill:#35b36b}.half_open circle{fill:#e5a823}.open circle{fill:#e5484d}"
			   ".disabled circle,.drained circle{fill:#7b8794}"
			   "td.closed{color:#35b36b}td.half_open{color:#e5a823}td.open{color:#e5484d}"
			   "td.disabled,td.drained{color:#7b8794}"
			   "table{border-collapse:collapse;width:100%%}td,th{padding:.25em .5em;text-align:left;border-bottom:1px solid #223243}"
			   "section{background:#16212d;border-radius:6px;padding:.8em;margin-bottom:1em}"
			   ".bar{display:flex;gap:.5em;align-items:center}.bar .name{width:12em}"
			   ".bar .fill{height:.8em;background:#4c8dd6;border-radius:2px}.muted{color:#7b8794}"
			   ".panic{color:#e5484d;font-weight:bold}"
			   "td.streaming,td.connected{color:#35b36b}td.retrying,td.disconnected,p.open{color:#e5484d}"
			   "td.starting,td.building,td.paused{color:#e5a823}.leader{color:#e5a823;font-weight:bold}"
			   "tr[data-leader] td:first-child{font-weight:bold}section table{font-size:13px}section td,section th{padding:.25em .3em}"
			   "section th{white-space:nowrap}\n</style></head>\n<body>\n");
	PageAppend(&p, "<header><h1>geoshard</h1><span id=\"summary\">%d regions: %d closed, %d half-open, %d open, %d out of routing</span>",
			   n, counts[0], counts[1], counts[2], counts[3]);
	if (health->panic)
		PageAppend(&p, "<span id=\"panic\" class=\"panic\">panic mode: routing ignores the breakers</span>");
	PageAppend(&p, "<span class=\"muted\">reloads every 5 s</span></header>\n<main><div>\n");
	PageMap(&p, regions, n);
	PageTable(&p, regions, n);
	PageAppend(&p, "</div><div>\n");
	PageReasons(&p, recent_reasons, window_s);
	/* each area's section (docs/observe.md) */
	PageRaft(&p, MetricsAreaSnapshot(snapshot, "raft"));
	PageCdc(&p, MetricsAreaSnapshot(snapshot, "cdc"));
	PageViews(&p, MetricsAreaSnapshot(snapshot, "redisview"));
	PageAppend(&p, "</div></main>\n</body></html>\n");

	free(regions);
	if (p.data == NULL)
		return NULL;
	*len = p.len;
	return p.data;
}
