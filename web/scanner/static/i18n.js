// The app's words in Kazakh, Russian and English. Keys not found fall back
// to English, then to the key itself.

export const LANGS = { kk: "Қазақша", ru: "Русский", en: "English" };

const T = {
  en: {
    title: "Courier's scanner", bags: "Bags", sheets: "Courier sheets", openRelease: "Released, not yet confirmed", cancelRelease: "Withdraw the release", u_d: "d", u_h: "h", u_min: "min", enrol: "Enrol this phone", enrolHint: "Scan the enrolment QR the security officer shows, or type its code.",
    code: "Enrolment code", label: "Phone name", enrolBtn: "Enrol", scanQR: "Scan QR code", enrolled: "Enrolled as",
    online: "Online", offline: "Offline", bundle: "Trust bundle", bundleAge: "Downloaded", offlineLeft: "Usable offline for",
    bundleExpired: "Expired for offline use: download a new one", noBundle: "No trust bundle yet: download it while online",
    refresh: "Download bundle", scanSeal: "Scan a seal", queue: "Records", receipts: "Receipts", settings: "Settings",
    valid: "VALID", invalid: "INVALID", registry: "Registry number", pkg: "Package", of: "of", carried: "On your sheets",
    notCarried: "Not on your sheets", youHold: "You hold this bag", heldBy: "Held by", typeSeal: "Or paste the seal text",
    check: "Check", checkpoint: "Record checkpoint", count: "Packages counted", place: "Place", release: "Release to…",
    to: "Receiver (username)", toUnit: "Or registry (unit code)", record: "Sign and queue", confirm: "Confirm receipt",
    confirmHint: "Scan the QR on the releasing phone or registry screen.", intact: "Seals intact",
    showQR: "Show this QR to the receiver", unsent: "unsent", accepted: "accepted", refused: "refused",
    syncNow: "Sync now", synced: "Last sync", nothing: "Nothing yet.", verify: "Verify offline", receiptOK: "Receipt verified",
    receiptBad: "Receipt does not verify", leaf: "Log entry", back: "Back", lang: "Language", contrast: "High contrast",
    stopCam: "Stop camera", cameraOff: "No camera: paste the text instead.", counter: "No.", reason: "Reason",
    kind_scan: "Checkpoint", kind_release: "Release", kind_confirm: "Receipt", kind_cancel: "Cancel", waiting: "waiting for receipt",
    r_seal_revoked: "the seal is revoked", r_bad_signature: "the signature does not verify (forged or altered)",
    r_seal_expired: "the seal has expired", r_unknown_key: "signed by a key the trust list does not hold",
    r_key_revoked: "the signing key is revoked", r_wrong_office: "signed by another office's key",
    r_bad_prefix: "not a Valise seal", r_bad_base45: "damaged seal text", r_bad_cbor: "damaged seal",
    r_seal_from_future: "issued in the future", r_bundle_expired: "the trust bundle is too old: download a new one",
    r_key_not_yet_valid: "signed before its key was valid", r_key_expired: "signed after its key expired",
  },
  ru: {
    title: "Сканер фельдъегеря", bags: "Вализы", sheets: "Курьерские листы", openRelease: "Передана, не подтверждена", cancelRelease: "Отозвать передачу", u_d: "д", u_h: "ч", u_min: "мин", enrol: "Регистрация телефона", enrolHint: "Отсканируйте QR-код регистрации, который показывает офицер безопасности, или введите код.",
    code: "Код регистрации", label: "Имя телефона", enrolBtn: "Зарегистрировать", scanQR: "Сканировать QR-код", enrolled: "Зарегистрирован как",
    online: "В сети", offline: "Нет сети", bundle: "Пакет доверия", bundleAge: "Загружен", offlineLeft: "Можно использовать без сети ещё",
    bundleExpired: "Срок работы без сети истёк: загрузите новый", noBundle: "Пакета доверия нет: загрузите его в сети",
    refresh: "Загрузить пакет", scanSeal: "Сканировать печать", queue: "Записи", receipts: "Квитанции", settings: "Настройки",
    valid: "ДЕЙСТВИТЕЛЬНА", invalid: "НЕДЕЙСТВИТЕЛЬНА", registry: "Регистрационный номер", pkg: "Место", of: "из", carried: "В ваших листах",
    notCarried: "Не в ваших листах", youHold: "Вализа у вас", heldBy: "У кого", typeSeal: "Или вставьте текст печати",
    check: "Проверить", checkpoint: "Отметить контрольную точку", count: "Мест пересчитано", place: "Место", release: "Передать…",
    to: "Получатель (логин)", toUnit: "Или канцелярия (код)", record: "Подписать и поставить в очередь", confirm: "Подтвердить получение",
    confirmHint: "Отсканируйте QR-код на телефоне передающего или на экране канцелярии.", intact: "Печати целы",
    showQR: "Покажите этот QR-код получателю", unsent: "не отправлено", accepted: "принято", refused: "отклонено",
    syncNow: "Синхронизировать", synced: "Последняя синхронизация", nothing: "Пока ничего.", verify: "Проверить без сети", receiptOK: "Квитанция подтверждена",
    receiptBad: "Квитанция не проходит проверку", leaf: "Запись журнала", back: "Назад", lang: "Язык", contrast: "Высокий контраст",
    stopCam: "Выключить камеру", cameraOff: "Камеры нет: вставьте текст.", counter: "№", reason: "Причина",
    kind_scan: "Контрольная точка", kind_release: "Передача", kind_confirm: "Получение", kind_cancel: "Отмена", waiting: "ожидает квитанции",
    r_seal_revoked: "печать отозвана", r_bad_signature: "подпись не сходится (подделка или изменение)",
    r_seal_expired: "срок печати истёк", r_unknown_key: "подписана ключом, которого нет в списке доверия",
    r_key_revoked: "ключ подписи отозван", r_wrong_office: "подписана ключом другого учреждения",
    r_bad_prefix: "это не печать Valise", r_bad_base45: "повреждённый текст печати", r_bad_cbor: "повреждённая печать",
    r_seal_from_future: "выдана в будущем", r_bundle_expired: "пакет доверия устарел: загрузите новый",
    r_key_not_yet_valid: "подписана до начала действия ключа", r_key_expired: "подписана после окончания действия ключа",
  },
  kk: {
    title: "Фельдъегерь сканері", bags: "Вализалар", sheets: "Курьерлік парақтар", openRelease: "Тапсырылды, әлі расталмаған", cancelRelease: "Тапсыруды кері қайтару", u_d: "тәул.", u_h: "сағ", u_min: "мин", enrol: "Телефонды тіркеу", enrolHint: "Қауіпсіздік офицері көрсеткен тіркеу QR-кодын сканерлеңіз немесе кодты енгізіңіз.",
    code: "Тіркеу коды", label: "Телефон атауы", enrolBtn: "Тіркеу", scanQR: "QR-кодты сканерлеу", enrolled: "Тіркелген:",
    online: "Желіде", offline: "Желі жоқ", bundle: "Сенім пакеті", bundleAge: "Жүктелді", offlineLeft: "Желісіз пайдалану мерзімі",
    bundleExpired: "Желісіз пайдалану мерзімі өтті: жаңасын жүктеңіз", noBundle: "Сенім пакеті жоқ: желіде жүктеңіз",
    refresh: "Пакетті жүктеу", scanSeal: "Мөрді сканерлеу", queue: "Жазбалар", receipts: "Түбіртектер", settings: "Баптаулар",
    valid: "ЖАРАМДЫ", invalid: "ЖАРАМСЫЗ", registry: "Тіркеу нөмірі", pkg: "Орын", of: "/", carried: "Сіздің парақтарыңызда",
    notCarried: "Сіздің парақтарыңызда жоқ", youHold: "Вализа сізде", heldBy: "Кімде", typeSeal: "Немесе мөр мәтінін қойыңыз",
    check: "Тексеру", checkpoint: "Бақылау нүктесін белгілеу", count: "Саналған орындар", place: "Орны", release: "Тапсыру…",
    to: "Алушы (логин)", toUnit: "Немесе кеңсе (коды)", record: "Қол қойып, кезекке қою", confirm: "Алғанын растау",
    confirmHint: "Тапсырушының телефонындағы немесе кеңсе экранындағы QR-кодты сканерлеңіз.", intact: "Мөрлер бүтін",
    showQR: "Бұл QR-кодты алушыға көрсетіңіз", unsent: "жіберілмеген", accepted: "қабылданды", refused: "қабылданбады",
    syncNow: "Синхрондау", synced: "Соңғы синхрондау", nothing: "Әзірге ештеңе жоқ.", verify: "Желісіз тексеру", receiptOK: "Түбіртек расталды",
    receiptBad: "Түбіртек тексеруден өтпеді", leaf: "Журнал жазбасы", back: "Артқа", lang: "Тіл", contrast: "Жоғары контраст",
    stopCam: "Камераны өшіру", cameraOff: "Камера жоқ: мәтінді қойыңыз.", counter: "№", reason: "Себебі",
    kind_scan: "Бақылау нүктесі", kind_release: "Тапсыру", kind_confirm: "Қабылдау", kind_cancel: "Болдырмау", waiting: "түбіртек күтілуде",
    r_seal_revoked: "мөр кері қайтарылған", r_bad_signature: "қолтаңба сәйкес келмейді (жалған немесе өзгертілген)",
    r_seal_expired: "мөрдің мерзімі өткен", r_unknown_key: "сенім тізімінде жоқ кілтпен қол қойылған",
    r_key_revoked: "қол қою кілті кері қайтарылған", r_wrong_office: "басқа мекеменің кілтімен қол қойылған",
    r_bad_prefix: "Valise мөрі емес", r_bad_base45: "мөр мәтіні бүлінген", r_bad_cbor: "мөр бүлінген",
    r_seal_from_future: "болашақта берілген", r_bundle_expired: "сенім пакеті ескірген: жаңасын жүктеңіз",
    r_key_not_yet_valid: "кілт күшіне енгенге дейін қол қойылған", r_key_expired: "кілт мерзімі өткеннен кейін қол қойылған",
  },
};

let lang = "en";
export function setLang(l) { lang = T[l] ? l : "en"; document.documentElement.lang = lang; }
export const current = () => lang;
export function t(key) { return (T[lang] && T[lang][key]) || T.en[key] || key; }

// reason is a refusal or seal reason in words, with its code kept.
export function reason(code) {
  const w = t("r_" + code);
  return w === "r_" + code ? code : w;
}

// apply fills every [data-t] element's text.
export function apply(root = document) {
  for (const el of root.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll("[data-tp]")) el.placeholder = t(el.dataset.tp);
}
