/**
 * Delivery addresses compared as a dispatcher would: "the same address" whatever the width of the
 * characters, the spacing, the punctuation, and whether the province and city were written out.
 * Chinese addresses run from large to small (province, city, district, street, number), so the
 * key is: the destination's region code (from its coordinates, which the ERP always sends) and
 * the rest of the address with the administrative prefix removed.
 *
 *   上海市黄浦区人民大道２００号        -> 310000|黄浦区人民大道200号
 *   上海 黄浦区 人民大道 200 号         -> 310000|黄浦区人民大道200号
 *   江苏省苏州市姑苏区人民路一百号      -> 320500|姑苏区人民路100号
 *
 * Steps: Unicode NFKC (full-width letters, digits and punctuation become half-width; the
 * compatibility ideographs fold), lower case, traditional forms of the address words that vary
 * (號 -> 号, 區 -> 区, 縣 -> 县, 門 -> 门, 樓 -> 楼), every space and punctuation mark dropped, Chinese numerals
 * before 号/弄/栋/幢/楼/室/层/单元 turned into digits, then the leading province and city names (with or
 * without 省/市/自治区) dropped.
 */

const TRADITIONAL: Record<string, string> = { 號: '号', 區: '区', 縣: '县', 門: '门', 樓: '楼', 層: '层', 棟: '栋', 東: '东', 與: '与', 廣: '广', 蘇: '苏', 濟: '济', 寧: '宁' };

/** Units a house number may carry: the numeral before them is read as a number. */
const NUMBER_UNITS = '号弄栋幢楼室层单元';

const DIGITS: Record<string, number> = { 零: 0, 〇: 0, 一: 1, 二: 2, 两: 2, 三: 3, 四: 4, 五: 5, 六: 6, 七: 7, 八: 8, 九: 9 };
const SCALES: Record<string, number> = { 十: 10, 百: 100, 千: 1000 };

/** A Chinese numeral up to 9,999 (一百零五, 二十, 十二, 三〇八), or null when it is not one. */
export function chineseNumeral(s: string): number | null {
  if (s === '' || ![...s].every((c) => c in DIGITS || c in SCALES)) return null;
  // Digit by digit (三〇八, 一二三): no scale characters.
  if (![...s].some((c) => c in SCALES)) return Number([...s].map((c) => DIGITS[c]).join(''));
  let total = 0;
  let digit: number | null = null;
  for (const c of s) {
    if (c in DIGITS) digit = DIGITS[c]!;
    else {
      total += (digit ?? 1) * SCALES[c]!;
      digit = null;
    }
  }
  return total + (digit ?? 0);
}

/** Administrative prefixes to drop: every province and city name of the region, with and without its suffix. */
function prefixesOf(names: readonly string[]): string[] {
  const out = new Set<string>();
  for (const n of names) {
    if (n === '') continue;
    out.add(n);
    const bare = n.replace(/(省|市|自治区|特别行政区|壮族自治区|回族自治区|维吾尔自治区)$/u, '');
    if (bare !== '') {
      out.add(bare);
      for (const suffix of ['省', '市', '自治区']) out.add(bare + suffix);
    }
  }
  // Longest first, so 上海市 is taken before 上海.
  return [...out].sort((a, b) => b.length - a.length);
}

/**
 * The comparable form of an address (without the region code): see the module comment.
 * `adminNames`: the province and city names of the destination's region (e.g. ["上海"],
 * ["江苏", "苏州"]), dropped when the address starts with them.
 */
export function normaliseAddressText(address: string, adminNames: readonly string[] = []): string {
  let s = address.normalize('NFKC').toLowerCase();
  s = [...s].map((c) => TRADITIONAL[c] ?? c).join('');
  // Spaces and punctuation of either width (after NFKC, the full-width ones are ASCII or CJK marks).
  s = s.replace(/[\s\p{P}\p{S}]+/gu, '');
  s = s.replace(new RegExp(`([零〇一二两三四五六七八九十百千]+)(?=[${NUMBER_UNITS}])`, 'gu'), (m) => String(chineseNumeral(m) ?? m));
  for (let again = true; again; ) {
    again = false;
    for (const p of prefixesOf(adminNames)) {
      if (p !== '' && s.startsWith(p) && s.length > p.length) {
        s = s.slice(p.length);
        again = true;
        break;
      }
    }
  }
  return s;
}

/**
 * Keys computed lately. An ERP sends a customer's delivery address as the same text order after
 * order, and normalising it (width folding, prefix stripping) cost about 5 % of a decision's CPU;
 * the key is a pure function of its inputs, so a bounded memo is safe. It is emptied when full
 * rather than kept in LRU order: refilling it costs one normalisation per address.
 */
const keyMemo = new Map<string, string>();
const KEY_MEMO_MAX = 10_000;

/** The merge key of an address: the region code and the normalised rest. */
export function addressKey(regionCode: string, address: string, adminNames: readonly string[] = []): string {
  const memoKey = `${regionCode}\u0000${adminNames.join('\u0001')}\u0000${address}`;
  const known = keyMemo.get(memoKey);
  if (known !== undefined) return known;
  const key = `${regionCode}|${normaliseAddressText(address, adminNames)}`;
  if (keyMemo.size >= KEY_MEMO_MAX) keyMemo.clear();
  keyMemo.set(memoKey, key);
  return key;
}
