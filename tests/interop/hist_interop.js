// SPDX-License-Identifier: MIT
// hist_interop.js - the hdr-histogram-js side of the interoperability test (see run_hist_interop.sh).
"use strict";

const fs = require("fs");
const hdr = require("hdr-histogram-js");

const PERCENTILES = [50, 90, 99, 99.9];

// The figures both sides must agree on, as hdr-histogram-js computes them.
function stats(h) {
  // Java's getMinValue(): 0 when the first bucket holds anything
  const min = h.totalCount === 0 || h.getCountAtIndex(0) > 0 ? 0 : h.lowestEquivalentValue(h.minNonZeroValue);
  const max = h.totalCount === 0 ? 0 : h.highestEquivalentValue(h.maxValue);
  return [h.totalCount, min, max, ...PERCENTILES.map((p) => h.getValueAtPercentile(p))];
}

// read-hlog LOG EXPECT: every interval shmq wrote must match shmq's own figures.
function readHlog(logPath, expectPath, distPath) {
  const reader = new hdr.HistogramLogReader(fs.readFileSync(logPath, "utf8"), 64);
  const expected = fs.readFileSync(expectPath, "utf8").trim().split("\n");
  let failures = 0;
  let n = 0;
  for (let h; (h = reader.nextIntervalHistogram()) !== null; n++) {
    const want = expected[n].split(" ");
    const got = [h.tag === hdr.NO_TAG || h.tag === "NO TAG" ? "-" : h.tag, ...stats(h)].map(String);
    if (want.join(" ") !== got.join(" ")) {
      console.error(`interval ${n}: shmq says ${want.join(" ")}, hdr-histogram-js reads ${got.join(" ")}`);
      failures++;
    }
    if (n === 0 && distPath) fs.writeFileSync(distPath, h.outputPercentileDistribution());
  }
  if (n !== expected.length) {
    console.error(`read ${n} intervals, shmq wrote ${expected.length}`);
    failures++;
  }
  console.log(`hdr-histogram-js read ${n} intervals of ${logPath}: ${failures} mismatches`);
  return failures === 0;
}

// A small deterministic generator, so the data sets are the same on every run.
function lcg(seed) {
  let s = BigInt(seed);
  return () => {
    s = (s * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    return Number(s >> 11n) / 2 ** 53;
  };
}

// write OUT: histograms encoded by hdr-histogram-js, with the figures it computes.
function write(outPath) {
  const configs = [
    [1, 3600e9, 3, 20000],
    [1, 1e6, 2, 5000],
    [1000, 1e12, 4, 10000],
    [1, 2 ** 50, 5, 3000],
    [1, 1000, 1, 100],
  ];
  const rnd = lcg(42);
  const lines = configs.map(([lowest, highest, digits, n]) => {
    const h = hdr.build({
      lowestDiscernibleValue: lowest,
      highestTrackableValue: highest,
      numberOfSignificantValueDigits: digits,
      bitBucketSize: 64,
    });
    for (let i = 0; i < n; i++) {
      const v = Math.floor(Math.exp(rnd() * Math.log(highest / 2)));
      h.recordValueWithCount(Math.max(1, v), 1 + Math.floor(rnd() * 3));
    }
    return [hdr.encodeIntoCompressedBase64(h), ...stats(h)].join(" ");
  });
  fs.writeFileSync(outPath, lines.join("\n") + "\n");
  console.log(`hdr-histogram-js encoded ${lines.length} histograms into ${outPath}`);
  return true;
}

// compare-dist A B: the same table, word for word; numbers may differ in the last printed
// digit only (Java and JS round decimal ties up, C's printf rounds the binary value).
function compareDist(aPath, bPath) {
  const a = fs.readFileSync(aPath, "utf8").split("\n");
  const b = fs.readFileSync(bPath, "utf8").split("\n");
  let bad = a.length !== b.length ? 1 : 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const wa = a[i].split(/(\s+)/), wb = b[i].split(/(\s+)/);
    const same = wa.length === wb.length && wa.every((w, k) => w === wb[k] ||
      (w.length === wb[k].length && Math.abs(Number(w) - Number(wb[k])) <=
        1.01 * 10 ** -((w.split(".")[1] || "").length)));
    if (!same) {
      console.error(`line ${i + 1}: shmq "${a[i]}" vs hdr-histogram-js "${b[i]}"`);
      bad++;
    }
  }
  console.log(`percentile distribution: ${a.length} lines compared, ${bad} differ`);
  return bad === 0;
}

const [mode, ...args] = process.argv.slice(2);
let ok = false;
if (mode === "read-hlog") ok = readHlog(...args);
else if (mode === "write") ok = write(...args);
else if (mode === "compare-dist") ok = compareDist(...args);
else console.error("usage: hist_interop.js read-hlog LOG EXPECT [DIST] | write OUT | compare-dist A B");
process.exit(ok ? 0 : 1);
