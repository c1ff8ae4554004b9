import { describe, expect, it } from '@jest/globals';
import { parseClock } from './clock-text';
import { pythonInt, pythonStr, pythonTruthy } from './python-coercion';

describe('pythonTruthy', () => {
  it.each([
    [null, false],
    [undefined, false],
    [false, false],
    [0, false],
    ['', false],
    [[], false],
    [{}, false],
    [Number.NaN, false],
    [true, true],
    [1, true],
    [-1, true],
    ['false', true],
    ['0', true],
    [' ', true],
    [[0], true],
    [{ a: 1 }, true],
  ])('%j → %s', (value, expected) => {
    expect(pythonTruthy(value)).toBe(expected);
  });
});

describe('pythonStr', () => {
  it.each([
    ['x', 'x'],
    [true, 'True'],
    [false, 'False'],
    [null, 'None'],
    [3, '3'],
    [1.5, '1.5'],
    [[1], '[1]'],
  ])('%j → %s', (value, expected) => {
    expect(pythonStr(value)).toBe(expected);
  });
});

describe('pythonInt', () => {
  it.each([
    ['3', 3],
    [' 3 ', 3],
    ['+3', 3],
    ['-1', -1],
    ['1_000', 1000],
    [7, 7],
    [3.9, 3],
    [-3.9, -3],
    [true, 1],
    [false, 0],
  ])('%j → %i', (value, expected) => {
    expect(pythonInt(value)).toEqual({ ok: true, value: expected });
  });
  it.each([
    ['abc', "invalid literal for int() with base 10: 'abc'"],
    ['3.5', "invalid literal for int() with base 10: '3.5'"],
    ['', "invalid literal for int() with base 10: ''"],
    [null, "int() argument must be a string, a bytes-like object or a real number, not 'NoneType'"],
    [[1], "int() argument must be a string, a bytes-like object or a real number, not 'list'"],
    [{}, "int() argument must be a string, a bytes-like object or a real number, not 'dict'"],
  ])('%j refused', (value, message) => {
    expect(pythonInt(value)).toEqual({ ok: false, message });
  });
});

describe('parseClock', () => {
  it.each([
    ['09h30', 570],
    ['9h30', 570],
    ['9:30', 570],
    ['00:00', 0],
    ['23h59', 1439],
    [' 17:45 ', 1065],
    ['0h05', 5],
    ['24:00', null],
    ['9h5', null],
    ['9:5', null],
    ['9h', null],
    ['09h60', null],
    ['9H30', null],
    ['9.30', null],
    ['123:00', null],
    ['', null],
    [null, null],
    [undefined, null],
    ['-1:00', null],
  ])('%j → %j', (text, expected) => {
    expect(parseClock(text)).toBe(expected);
  });
});
