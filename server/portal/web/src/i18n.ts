// English and Simplified Chinese. The choice is remembered in
// localStorage; the first visit follows the browser's language. Every key
// is in both files (a Go test fails otherwise).
import { useEffect, useState } from "preact/hooks";
import en from "./i18n/en.json";
import zh from "./i18n/zh.json";

export type Lang = "en" | "zh";
export type Key = keyof typeof en;
const messages: Record<Lang, Record<string, string>> = { en, zh };
const langKey = "ovm.lang";

function initial(): Lang {
  const saved = localStorage.getItem(langKey);
  if (saved === "en" || saved === "zh") return saved;
  return navigator.language.toLowerCase().startsWith("zh") ? "zh" : "en";
}

let lang: Lang = initial();
const listeners = new Set<() => void>();
document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";

export function currentLang(): Lang {
  return lang;
}

export function setLang(l: Lang) {
  lang = l;
  localStorage.setItem(langKey, l);
  document.documentElement.lang = l === "zh" ? "zh-CN" : "en";
  listeners.forEach((f) => f());
}

// useLang re-renders the caller when the language changes.
export function useLang(): Lang {
  const [l, set] = useState(lang);
  useEffect(() => {
    const f = () => set(lang);
    listeners.add(f);
    return () => void listeners.delete(f);
  }, []);
  return l;
}

// t is the message of key in the current language, with {name} replaced
// by vars' values.
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const m = messages[lang][key] ?? messages.en[key] ?? key;
  return m.replace(/\{(\w+)\}/g, (_, k: string) => (k in vars ? String(vars[k]) : `{${k}}`));
}

// has tells whether key is a message (for keys made from API values such
// as states).
export function has(key: string): key is Key {
  return key in messages.en;
}

export function tx(key: string, fallback: string): string {
  return has(key) ? t(key) : fallback;
}

export function fmtTime(s?: string): string {
  if (!s) return "";
  return new Date(s).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { dateStyle: "short", timeStyle: "medium" });
}
