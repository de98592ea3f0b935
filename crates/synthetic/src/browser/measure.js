// Run by WebDriver as an async script once the page has loaded: waits for
// the page to go quiet (no new request for 500 ms, at most 5 s), then
// returns what the load cost. The metrics follow the RUM script's
// definitions (web-vitals): TTFB, DNS, connect and TLS from the navigation
// entry, FCP, LCP (last candidate), CLS (largest session window: gaps under
// 1 s, windows up to 5 s); total blocking time sums what every long task
// after FCP took beyond 50 ms.
const done = arguments[arguments.length - 1];
const P = performance;
const nav = P.getEntriesByType("navigation")[0] || {};
const started = P.now();
let lcp = null, fcp = null, cls = 0, windowSum = 0, windowStart = 0, windowLast = 0;
const longTasks = [];
const observe = (type, take) => {
  try {
    new PerformanceObserver((list) => list.getEntries().forEach(take))
      .observe({ type, buffered: true });
  } catch (e) {}
};
observe("paint", (e) => { if (e.name === "first-contentful-paint") fcp = e.startTime; });
observe("largest-contentful-paint", (e) => { lcp = e.startTime; });
observe("layout-shift", (e) => {
  if (e.hadRecentInput) return;
  if (windowSum && (e.startTime - windowLast > 1000 || e.startTime - windowStart > 5000)) {
    windowSum = 0;
  }
  if (!windowSum) windowStart = e.startTime;
  windowSum += e.value;
  windowLast = e.startTime;
  cls = Math.max(cls, windowSum);
});
observe("longtask", (e) => longTasks.push([e.startTime, e.duration]));
let seen = P.getEntriesByType("resource").length, quietSince = P.now();
const settle = () => {
  const now = P.now(), count = P.getEntriesByType("resource").length;
  if (count !== seen) { seen = count; quietSince = now; }
  if (now - quietSince >= 500 || now - started >= 5000) finish(); else setTimeout(settle, 50);
};
const phase = (from, to) => (from > 0 && to >= from ? to - from : 0);
const finish = () => {
  const blocking = longTasks
    .filter(([start]) => fcp !== null && start >= fcp)
    .reduce((sum, [, duration]) => sum + Math.max(0, duration - 50), 0);
  const requests = [nav].concat(P.getEntriesByType("resource")).filter((e) => e.name).map((e) => ({
    url: e.name,
    kind: e.entryType === "navigation" ? "document" : e.initiatorType,
    status: e.responseStatus || null, // 0: not told (cross-origin)
    transfer_bytes: e.transferSize || 0,
    body_bytes: e.encodedBodySize || 0,
    start_ms: e.startTime,
    dns_ms: phase(e.domainLookupStart, e.domainLookupEnd),
    connect_ms: phase(e.connectStart, e.connectEnd),
    tls_ms: e.secureConnectionStart > 0 ? phase(e.secureConnectionStart, e.connectEnd) : 0,
    wait_ms: phase(e.requestStart, e.responseStart),
    download_ms: phase(e.responseStart, e.responseEnd),
    duration_ms: e.duration,
  }));
  done({
    metrics: {
      ttfb: nav.responseStart,
      redirect: phase(nav.redirectStart, nav.redirectEnd),
      dns: phase(nav.domainLookupStart, nav.domainLookupEnd),
      connect: phase(nav.connectStart, nav.connectEnd),
      tls: nav.secureConnectionStart > 0 ? phase(nav.secureConnectionStart, nav.connectEnd) : 0,
      download: phase(nav.responseStart, nav.responseEnd),
      fcp, lcp, cls,
      dom_interactive: nav.domInteractive,
      dom_content_loaded: nav.domContentLoadedEventEnd,
      load: nav.loadEventEnd,
    },
    total_blocking_time_ms: blocking,
    requests,
  });
};
settle();
