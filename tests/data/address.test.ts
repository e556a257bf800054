import { describe, expect, it } from 'vitest';
import { addressKey, chineseNumeral, normaliseAddressText } from '../../src/domain/address.js';

describe('address normalisation (order merging compares addresses as a dispatcher would)', () => {
  const sh = ['上海'];
  it('folds full- and half-width characters, spacing and punctuation', () => {
    const a = normaliseAddressText('上海市黄浦区人民大道２００号', sh);
    expect(a).toBe('黄浦区人民大道200号');
    expect(normaliseAddressText('上海 黄浦区 人民大道 200 号', sh)).toBe(a);
    expect(normaliseAddressText('上海市，黄浦区（人民大道）２００号。', sh)).toBe(a);
    expect(normaliseAddressText('黄浦区人民大道200号', sh)).toBe(a);
  });

  it('drops the province and city names, with or without their suffix, only at the start', () => {
    const js = ['江苏', '苏州'];
    const a = normaliseAddressText('江苏省苏州市姑苏区人民路100号', js);
    expect(a).toBe('姑苏区人民路100号');
    expect(normaliseAddressText('苏州市姑苏区人民路100号', js)).toBe(a);
    expect(normaliseAddressText('江苏苏州姑苏区人民路100号', js)).toBe(a);
    // A street named after the city is not a prefix when it comes later.
    expect(normaliseAddressText('姑苏区苏州路100号', js)).toBe('姑苏区苏州路100号');
  });

  it('reads Chinese numerals before a house-number unit, and traditional forms', () => {
    expect(normaliseAddressText('姑蘇區人民路一百號', ['江苏', '苏州'])).toBe('姑苏区人民路100号');
    expect(normaliseAddressText('人民路二十五号三〇八室')).toBe('人民路25号308室');
    expect(normaliseAddressText('中山东一路十二号')).toBe('中山东一路12号');
    expect([chineseNumeral('一百零五'), chineseNumeral('十二'), chineseNumeral('两千'), chineseNumeral('三〇八'), chineseNumeral('路')]).toEqual([105, 12, 2000, 308, null]);
  });

  it('keeps different places apart, and keys them by region', () => {
    expect(normaliseAddressText('人民大道200号')).not.toBe(normaliseAddressText('人民大道201号'));
    expect(addressKey('310000', '上海市黄浦区人民大道200号', sh)).toBe(addressKey('310000', '黄浦区 人民大道 ２００号', sh));
    expect(addressKey('310000', '人民大道200号')).not.toBe(addressKey('320500', '人民大道200号'));
    expect(normaliseAddressText("People's Square, Huangpu,  SHANGHAI")).toBe('peoplessquarehuangpushanghai');
  });
});
