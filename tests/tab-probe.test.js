// tab-probe.test.js — bench/tab_probe.js's transients(): per phase, the median of the PSS sum, its
// peak, and the events around the peak (what bench/tab_experiment.js prints to find short peaks).
import test from 'node:test';
import assert from 'node:assert/strict';
import { transients, transientLines } from '../bench/tab_probe.js';

test('transients: the median, the peak and the events around the peak of each phase, in order', () => {
  const timeline = [
    { t: 0, pss: 500, key: 'features' }, { t: 1, pss: 520, key: 'features' }, { t: 2, pss: 510, key: 'features' },
    { t: 3, pss: 700, key: 'classifiers: A' }, { t: 4, pss: 800, key: 'classifiers: A' }, { t: 5, pss: 700, key: 'classifiers: A' },
    { t: 6, pss: 700, key: 'classifiers: A' },
  ];
  const events = [{ t: 0.5, what: 'x started' }, { t: 3.5, what: 'cache started' }, { t: 4.5, what: 'cache ended' }, { t: 6, what: 'late' }];
  const [f, a] = transients(timeline, events);
  assert.deepEqual(f, { key: 'features', steady: 510, peak: 520, at: 1, rise: 10, near: ['-0.5 s x started'] });
  assert.deepEqual(a, { key: 'classifiers: A', steady: 700, peak: 800, at: 4, rise: 100, near: ['-0.5 s cache started', '0.5 s cache ended'] });
  assert.match(transientLines([a]), /classifiers: A +median {2}700 MB, peak {2}800 MB \(\+100\) at 4\.0 s; around it: -0\.5 s cache started; 0\.5 s cache ended/);
  assert.deepEqual(transients(timeline.map((x) => ({ ...x, anon: x.t === 5 ? 900 : 1 })), events, { field: 'anon' })[1],
    { key: 'classifiers: A', steady: 1, peak: 900, at: 5, rise: 899, near: ['-1.5 s cache started', '-0.5 s cache ended', '1.0 s late'] }, 'the anonymous part');
  assert.deepEqual(transients([], []), []);
});
