/* Sightline RUM: one beacon per page view, sent when the page is hidden.
   No cookies, no storage, no fingerprinting. Metrics follow the web-vitals
   definitions: LCP (last candidate before input or hiding), CLS (largest
   session window: gaps < 1 s, windows <= 5 s), INP (worst interaction,
   one skipped per 50 of the view's interactions, at most the tenth worst;
   interactions of 40 ms and more, and the first input however fast;
   entries still queued are taken when the beacon is sent), FCP and TTFB. History API route changes are soft
   navigations, each its own page view with the time until the DOM settles.
   Phases that may end after this async script runs (download, DOM
   interactive, DOM content loaded, load) are read when the beacon is sent.
   Hand-minified to stay under 1,500 bytes gzipped; served as written.
   Names: D document, N navigator, P performance, K site key, U endpoint,
   H client hints, v current view {n nav, t start, m metrics, c CLS,
   w/s/l session window sum/start/last, i interactions, q interaction count
   before it, x sent, u URL}, f first (hard) view (o: its first input),
   a activation start, E navigation entry, I/F the event and first-input
   observers, G records an interaction. */
!function(){try{
var D=document,N=navigator,P=performance,S=D.currentScript,K=S&&S.getAttribute("data-site"),U,H,v,f,I,F,
E=P.getEntriesByType("navigation")[0]||{},a=E.activationStart||0,
R=(x,d)=>Math.round(x*d)/d,
O=(t,g,x)=>{try{var o=new PerformanceObserver(l=>l.getEntries().map(g));o.observe({type:t,buffered:1,...x});return o}catch{}},
G=p=>{var i=p.interactionId;i&&(v.i[i]=Math.max(v.i[i]||0,p.duration))},
M=(k,x,d)=>{x>=0&&x<=(k=="cls"?100:6e5)&&(v.m[k]=R(x,d||10))},
B=(n,t)=>{v={n,t,m:{},c:0,w:0,s:0,l:0,i:{},q:t&&P.interactionCount|0,u:location.href.split("#")[0]}},
X=()=>{if(v.x)return;[I,F].map(o=>o?.takeRecords().map(G));v.x=1;var k=Object.values(v.i).sort((p,q)=>q-p),b;
k[0]>=0&&M("inp",k[Math.min(k.length-1,9,(P.interactionCount-v.q)/50|0)]);M("cls",v.c,1e4);v==f&&(E.responseEnd>0&&M("download",E.responseEnd-E.responseStart),[["dom_interactive","domInteractive"],["dom_content_loaded","domContentLoadedEventEnd"],["load","loadEventEnd"]].map(p=>{E[p[1]]>0&&M(p[0],E[p[1]]-a)}));
b=JSON.stringify({site:K,url:v.u,nav:v.n,metrics:v.m,hints:H,env:{vw:innerWidth,vh:innerHeight,dpr:devicePixelRatio,ect:N.connection?.effectiveType,lang:N.language}});
N.sendBeacon?.(U,b)||fetch(U,{method:"POST",body:b,keepalive:1})},
Z=()=>{var u=location.href.split("#")[0],s,q,m;if(u==v.u)return;X();B("soft",P.now());s=v;s.m.settle=0;
m=new MutationObserver(()=>{clearTimeout(q);s.m.settle=R(P.now()-s.t,10);q=setTimeout(()=>{m.disconnect()},1e3)});
m.observe(D,{childList:1,subtree:1,attributes:1,characterData:1})};
if(!K||D.querySelector("[data-no-rum]"))return;U=new URL("/rum/v1/beacon",S.src).href;
B(D.prerendering||a>0?"prerender":E.type||"navigate",0);f=v;
if(E.responseStart){M("ttfb",E.responseStart-a);M("redirect",E.redirectEnd-E.redirectStart);
M("dns",E.domainLookupEnd-E.domainLookupStart);M("connect",E.connectEnd-E.connectStart);
M("tls",E.secureConnectionStart>0?E.connectEnd-E.secureConnectionStart:0)}
O("paint",p=>{p.name=="first-contentful-paint"&&f==v&&M("fcp",p.startTime-a)});
O("largest-contentful-paint",p=>{f==v&&!(f.o<p.startTime)&&M("lcp",p.startTime-a)});
O("layout-shift",p=>{if(p.hadRecentInput)return;var t=p.startTime;
t-v.l<1e3&&t-v.s<5e3?v.w+=p.value:(v.w=p.value,v.s=t);v.l=t;v.c=Math.max(v.c,v.w)});
I=O("event",G,{durationThreshold:40});F=O("first-input",p=>{f.o=p.startTime;G(p)});
N.userAgentData?.getHighEntropyValues(["platformVersion","fullVersionList"]).then(h=>{H=h},()=>0);
["pushState","replaceState"].forEach(k=>{var g=history[k];history[k]=function(...y){var r=g.apply(this,y);try{Z()}catch{}return r}});
[["popstate",Z],["pagehide",X],["visibilitychange",()=>{D.visibilityState=="hidden"&&X()}]].forEach(p=>{addEventListener(p[0],p[1],1)})
}catch{}}();
