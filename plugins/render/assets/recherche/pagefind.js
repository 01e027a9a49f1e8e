// The site's search as Pagefind's interface sees it: its own bundles searched one by one, without the results of a
// bundle that does not contain the words searched.
//
// When a word is in none of a bundle's pages, Pagefind searches the longest beginning of it that is (« a » for
// « asalee »; upstream behaviour since Pagefind 1.0, no option turns it off). Each site's index is in two bundles
// (the pages both sites show, and the site's own), so a word found in one bundle brought, from the other, every
// page with a word starting with « a »: 29 locked teasers under the one offer. Here each bundle is searched on its
// own; the top result of each shows whether the bundle found the words or fell back, and a bundle that fell back
// gives nothing. Results, counts and filters are merged as Pagefind's own mergeIndex does.
//
// Pagefind's interface imports `${bundlePath}pagefind.js`: this module, whose folder is the bundlePath given to it.
const bundles = document.getElementById("recherche").getAttribute("data-bundles").split(" ").filter(Boolean)
  .map((path) => new URL(path, document.baseURI).pathname);
const instances = Promise.all(bundles.map((path) => import(path + "pagefind.js")));

// Letters only, lower case, without accents: how Pagefind compares words.
function plain(text) {
  return text.normalize("NFD").replace(/\p{M}/gu, "").toLocaleLowerCase("fr");
}

function wordsOf(text) {
  return plain(text).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

// A term is found when a matched word shares its first letters with it: all of them for a short term, four at
// least for a longer one (French stems: « coordinateurs » finds « coordination »). A fallback shares fewer.
function shares(word, term) {
  const wanted = Math.min(4, term.length);
  let n = 0;
  while (n < word.length && n < term.length && word[n] === term[n]) { n += 1; }
  return n >= wanted;
}

async function foundIn(response, terms) {
  if (!response.results.length || !terms.length) { return true; }
  const data = await response.results[0].data();
  const content = (data.content || "").split(/\s+/);
  const matched = (data.locations || []).flatMap((i) => wordsOf(content[i] || ""));
  return terms.every((term) => matched.some((word) => shares(word, term)));
}

function mergeFilters(all) {
  const merged = {};
  for (const filters of all) {
    for (const [name, values] of Object.entries(filters || {})) {
      merged[name] = merged[name] || {};
      for (const [value, count] of Object.entries(values)) {
        merged[name][value] = (merged[name][value] || 0) + count;
      }
    }
  }
  return merged;
}

export async function options(settings) {
  await Promise.all((await instances).map((p) => p.options(settings)));
}

export async function mergeIndex() {
  // The bundles are this module's own: nothing to merge.
}

export async function filters() {
  return mergeFilters(await Promise.all((await instances).map((p) => p.filters())));
}

export async function preload(term, settings) {
  await Promise.all((await instances).map((p) => p.preload(term, settings)));
}

export async function search(term, settings) {
  const all = await Promise.all((await instances).map((p) => p.search(term, settings)));
  const terms = term ? wordsOf(term.replace(/^\s*"|"\s*$/g, "")) : [];
  const kept = [];
  for (const response of all) {
    if (response && await foundIn(response, terms)) { kept.push(response); }
  }
  return {
    results: kept.flatMap((r) => r.results).sort((a, b) => b.score - a.score),
    unfilteredResultCount: kept.reduce((sum, r) => sum + r.unfilteredResultCount, 0),
    filters: mergeFilters(kept.map((r) => r.filters)),
    // Every bundle's totals: a filter value stays offered (with 0) when only the other bundle has it.
    totalFilters: mergeFilters(all.map((r) => r && r.totalFilters)),
    timings: all.map((r) => r && r.timings),
  };
}

export async function destroy() {
  await Promise.all((await instances).map((p) => p.destroy && p.destroy()));
}
