// A queue's day as a small SVG chart: per interval, the conversations answered (with those taken
// within the queue's target drawn over them) as bars, and the most waiting at once as a line.
// Drawn from `GET /v1/queues/series`, totals included; the page only turns two of them into a
// percentage for the caption.

const SVG = "http://www.w3.org/2000/svg";
const BAR = 14; // width of one interval, in view-box units
const HEIGHT = 110;
const TOP = 8;
const BOTTOM = 18; // room for the time labels

function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

/** "09:30" in the browser's time zone, on a 24-hour clock. */
function hhmm(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

/** The chart of one queue's series (`{queue, answer_target_ms, points}`), `step` minutes apart,
 * on an axis as long as a whole day: the hours still to come stay empty. */
export function queueChart(series, step) {
  const points = series.points;
  const slots = Math.max(points.length, Math.ceil((24 * 60) / step));
  const width = slots * BAR;
  const tallest = Math.max(1, ...points.map((p) => Math.max(p.waiting, p.answered)));
  const plot = HEIGHT - TOP - BOTTOM;
  const y = (n) => TOP + plot - (n / tallest) * plot;
  const bars = points.flatMap((p, i) => {
    const x = i * BAR + 2;
    const tip = `${hhmm(p.start)} (+${step} min): at most ${p.waiting} waiting, ${p.answered} answered, `
      + `${p.answered_in_time} in time, ${p.missed} missed`;
    return [
      s("rect", { class: "answered", x, y: y(p.answered), width: BAR - 4, height: y(0) - y(p.answered) },
        s("title", {}, tip)),
      s("rect", { class: "in-time", x, y: y(p.answered_in_time), width: BAR - 4,
        height: y(0) - y(p.answered_in_time) }, s("title", {}, tip)),
    ];
  });
  const line = points.map((p, i) => `${i * BAR + BAR / 2},${y(p.waiting)}`).join(" ");
  // A label every three hours (or every interval, when they are longer), from the first start.
  const every = Math.max(1, Math.round(180 / step));
  const first = points.length > 0 ? Date.parse(points[0].start) : Date.now();
  const labels = [];
  for (let i = 0; i < slots; i += every) {
    labels.push(s("text", { x: i * BAR, y: HEIGHT - 3, "text-anchor": i === 0 ? "start" : "middle" },
      hhmm(new Date(first + i * step * 60_000).toISOString())));
  }
  const { answered, answered_in_time: inTime } = series;
  const target = Math.round(series.answer_target_ms / 1000);
  const chart = s("svg", {
    class: "chart", viewBox: `0 0 ${width} ${HEIGHT}`, role: "img",
    "aria-label": `${series.queue}: waiting and answered over the day`,
  },
  s("line", { class: "axis", x1: 0, x2: width, y1: y(0), y2: y(0) }),
  ...bars,
  s("polyline", { class: "waiting", points: line }),
  ...labels);
  const summary = answered === 0
    ? `Nothing answered yet today (target ${target} s)`
    : `Answered within ${target} s: ${inTime} of ${answered} (${Math.round((100 * inTime) / answered)}%)`;
  return { chart, summary };
}
