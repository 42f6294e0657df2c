package console

import (
	"fmt"
	"strings"
)

// The console speaks Kazakh, Russian and English. Each message is one line
// of catalog below: key, then the three languages. A key missing from a
// language falls back to English (TestCatalogComplete keeps them whole).
// The domain's own refusals (why an action was refused) are English.

var langs = []string{"kk", "ru", "en"}

// catalog[lang][key] is the message.
var catalog = map[string]map[string]string{"kk": {}, "ru": {}, "en": {}}

func init() {
	for _, m := range messages {
		catalog["kk"][m[0]], catalog["ru"][m[0]], catalog["en"][m[0]] = m[1], m[2], m[3]
	}
}

func translate(lang, key string, args ...any) string {
	s, ok := catalog[lang][key]
	if !ok || s == "" {
		if s, ok = catalog["en"][key]; !ok {
			s = key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// acceptLanguage picks the first of kk, ru, en the browser asks for; English
// when it asks for none of them.
func acceptLanguage(h string) string {
	for _, part := range strings.Split(h, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if _, ok := catalog[base]; ok {
			return base
		}
	}
	return "en"
}

// messages: key, Kazakh, Russian, English.
var messages = [][4]string{
	{"skip", "Негізгі мазмұнға өту", "Перейти к содержанию", "Skip to content"},
	{"footer", "Valise — дипломатиялық пошта және кадрлар", "Valise — дипломатическая почта и кадры", "Valise — diplomatic mail and personnel"},
	{"nav.desks", "Жұмыс орындары", "Рабочие места", "Desks"},
	{"nav.password", "Құпиясөзді өзгерту", "Сменить пароль", "Change password"},
	{"nav.signout", "Шығу", "Выйти", "Sign out"},
	{"prefs.lang", "Тіл", "Язык", "Language"},
	{"prefs.tz", "Уақыт белдеуі", "Часовой пояс", "Time zone"},
	{"prefs.save", "Сақтау", "Сохранить", "Save"},
	{"lang.kk", "Қазақша", "Казахский", "Kazakh"},
	{"lang.ru", "Орысша", "Русский", "Russian"},
	{"lang.en", "Ағылшынша", "Английский", "English"},
	{"yes", "Иә", "Да", "Yes"},
	{"no", "Жоқ", "Нет", "No"},
	{"list.empty", "Ештеңе жоқ.", "Ничего нет.", "Nothing here."},

	{"title.login", "Кіру", "Вход", "Sign in"},
	{"title.password", "Құпиясөзді өзгерту", "Смена пароля", "Change password"},
	{"title.error", "Орындалмады", "Не выполнено", "Not done"},
	{"title.home", "Valise", "Valise", "Valise"},
	{"title.bag", "Вализа", "Вализа", "Diplomatic bag"},
	{"title.person", "Қызметкер", "Сотрудник", "Staff member"},
	{"desk.clerk", "Тіркеу бөлімі", "Регистратура", "Registry desk"},
	{"desk.security", "Қауіпсіздік қызметі", "Служба безопасности", "Security desk"},
	{"desk.personnel", "Кадр қызметі", "Кадровая служба", "Personnel desk"},
	{"home.nodesk", "Сіздің рөліңізге арналған жұмыс орны жоқ.", "Для вашей роли нет рабочего места.", "There is no desk for your role."},

	{"login.username", "Пайдаланушы аты", "Имя пользователя", "Username"},
	{"login.password", "Құпиясөз", "Пароль", "Password"},
	{"login.submit", "Кіру", "Войти", "Sign in"},
	{"login.failed", "Пайдаланушы аты немесе құпиясөз қате.", "Неверное имя пользователя или пароль.", "Wrong username or password."},
	{"login.throttled", "Сәтсіз әрекеттер тым көп. Кейінірек қайталаңыз.", "Слишком много неудачных попыток. Повторите позже.", "Too many failed sign-ins. Try again later."},
	{"password.current", "Қазіргі құпиясөз", "Текущий пароль", "Current password"},
	{"password.new", "Жаңа құпиясөз", "Новый пароль", "New password"},
	{"password.confirm", "Жаңа құпиясөзді қайталаңыз", "Повторите новый пароль", "Repeat the new password"},
	{"password.hint", "Кемінде 10 таңба. Өзгерткеннен кейін барлық сеанстар жабылады.", "Не менее 10 символов. После смены все сеансы закрываются.", "At least 10 characters. Changing it ends all your sessions."},
	{"password.submit", "Өзгерту", "Сменить", "Change"},
	{"password.mismatch", "Жаңа құпиясөздер сәйкес келмейді.", "Новые пароли не совпадают.", "The new passwords differ."},
	{"password.wrong", "Қазіргі құпиясөз қате.", "Текущий пароль неверен.", "The current password is wrong."},
	{"password.invalid", "Жаңа құпиясөз жарамсыз.", "Новый пароль не подходит.", "The new password is not valid."},
	{"password.changed", "Құпиясөз өзгертілді. Қайта кіріңіз.", "Пароль изменён. Войдите снова.", "Password changed. Sign in again."},

	{"error.csrf", "Пішін ескірген немесе басқа беттен жіберілген. Бетті жаңартып, қайталаңыз.", "Форма устарела или отправлена с другой страницы. Обновите страницу и повторите.", "This form has expired or came from another page. Reload the page and try again."},
	{"error.notfound", "Табылмады.", "Не найдено.", "Not found."},
	{"error.internal", "Ішкі қате. Ол тіркелді.", "Внутренняя ошибка. Она записана в журнал.", "Internal error. It has been logged."},
	{"error.refused", "Әрекет қабылданбады:", "Действие отклонено:", "The action was refused:"},
	{"error.back", "Басты бетке", "На главную", "Back to the start"},

	{"clerk.glance", "Бүгінгі жұмыс", "Работа на сегодня", "Today's work"},
	{"clerk.waiting", "Күтіп тұрған тапсырулар", "Ожидающие сдачи", "Submissions waiting"},
	{"clerk.assembling", "Жиналып жатқан вализалар", "Комплектуемые вализы", "Bags assembling"},
	{"clerk.toseal", "Мөрлеуге", "К опечатыванию", "To seal"},
	{"clerk.todispatch", "Жөнелтуге", "К отправке", "To dispatch"},
	{"clerk.arriving", "Келе жатқан", "Прибывающие", "Arriving"},
	{"clerk.overdue", "Мерзімі өткен", "Просроченные", "Overdue"},
	{"clerk.tostore", "Сақтауға", "К хранению", "To store"},
	{"clerk.incidents", "Ашық оқиғалар", "Открытые инциденты", "Open incidents"},
	{"clerk.assemble", "Вализаға салу", "Вложить в вализу", "Assemble"},
	{"clerk.intobag", "Вализа", "Вализа", "Bag"},
	{"clerk.submit", "Тапсыруды қабылдау", "Принять сдачу", "Accept a submission"},
	{"clerk.submit.button", "Қабылдау", "Принять", "Accept"},
	{"clerk.submitted", "Тапсыру тіркелді.", "Сдача зарегистрирована.", "Submission recorded."},

	{"sub.sender", "Жіберуші", "Отправитель", "Sender"},
	{"sub.destination", "Баратын жері", "Назначение", "Destination"},
	{"sub.items", "Заттар", "Вложения", "Items"},
	{"sub.received", "Қабылданды", "Принято", "Received"},
	{"sub.submitter", "Тапсырған адам", "Сдал", "Handed in by"},
	{"sub.submitter.hint", "Басқа ұйымның қызметкерінің логині; бос болса — сіз.", "Логин сотрудника другой организации; пусто — вы.", "Username of another organization's officer; empty: you."},
	{"sub.responsible", "Мазмұнға жауапты", "Ответственный за содержание", "Responsible for the contents"},
	{"sub.kind", "Түрі", "Вид", "Kind"},
	{"sub.number", "Тіркеу нөмірі", "Регистрационный номер", "Registry number"},
	{"sub.count", "Саны", "Количество", "Count"},
	{"sub.description", "Сипаттама", "Описание", "Description"},
	{"kind.correspondence", "Хат-хабар", "Корреспонденция", "Correspondence"},
	{"kind.item", "Зат", "Предмет", "Item"},
	{"kind.equipment", "Жабдық", "Оборудование", "Equipment"},

	{"bag.number", "Нөмірі", "Номер", "Number"},
	{"bag.route", "Бағыты", "Маршрут", "Route"},
	{"bag.state", "Күйі", "Состояние", "State"},
	{"bag.level", "Құпиялық", "Гриф", "Classification"},
	{"bag.custodian", "Кімде", "У кого", "Custodian"},
	{"bag.due", "Мерзімі", "Срок", "Due"},
	{"bag.dispatched", "Жөнелтілді", "Отправлена", "Dispatched"},
	{"bag.packages", "Орамдар", "Места", "Packages"},
	{"bag.storage", "Сақтау орны", "Место хранения", "Stored at"},
	{"bag.next", "Келесі қадам", "Следующий шаг", "Next step"},
	{"bag.contents", "Мазмұны", "Содержимое", "Contents"},
	{"bag.seals", "Мөрлер", "Печати", "Seals"},
	{"bag.labels", "Мөр жапсырмаларын басып шығару", "Напечатать ярлыки печатей", "Print the seal labels"},
	{"bag.sheets", "Курьер парақтары", "Курьерские листы", "Courier sheets"},
	{"bag.incidents", "Оқиғалар", "Инциденты", "Incidents"},
	{"bag.history", "Тарихы", "История", "History"},
	{"bag.more", "Тарихтың келесі беті", "Следующая страница истории", "The next page of the history"},
	{"bag.treesize", "Журналдың тексерілген өлшемі: %d жазба", "Проверенный размер журнала: %d записей", "Checked against the custody log at size %d"},

	{"act.seal", "Мөрлеу", "Опечатать", "Seal"},
	{"act.sheet", "Курьер парағын беру", "Выдать курьерский лист", "Issue a courier sheet"},
	{"act.dispatch", "Курьерге тапсыру", "Передать курьеру", "Release to the courier"},
	{"act.accept", "Келген вализаны қабылдау", "Принять прибывшую вализу", "Accept the arriving bag"},
	{"act.store", "Сақтауға қою", "Поместить на хранение", "Store"},
	{"act.examine", "Бақылаумен ашуды тіркеу", "Записать вскрытие под надзором", "Record a supervised opening"},
	{"done.assemble", "Вализаға салынды.", "Вложено в вализу.", "Put into the bag."},
	{"done.seal", "Вализа мөрленді. Мөр жапсырмаларын басып шығарыңыз.", "Вализа опечатана. Напечатайте ярлыки печатей.", "The bag is sealed. Print its seal labels."},
	{"done.sheet", "Курьер парағы берілді.", "Курьерский лист выдан.", "Courier sheet issued."},
	{"done.dispatch", "Вализа тапсырылды.", "Вализа передана.", "The bag is released."},
	{"done.accept", "Вализа қабылданды.", "Вализа принята.", "The bag is accepted."},
	{"done.store", "Вализа сақтауға қойылды.", "Вализа помещена на хранение.", "The bag is stored."},
	{"done.examine", "Ашу тіркелді.", "Вскрытие записано.", "The opening is recorded."},

	{"seal.container", "Ыдыс", "Тара", "Container"},
	{"seal.packages", "Орам саны", "Число мест", "Packages"},
	{"seal.protective", "Қорғау құралдары", "Средства защиты", "Protective means"},
	{"seal.serials", "Пломба нөмірлері", "Номера пломб", "Physical seal serials"},
	{"seal.serials.hint", "Әр жолға бір нөмір, орам ретімен.", "По одному на строку, в порядке мест.", "One per line, in package order."},
	{"container.package", "Бума", "Пакет", "Package"},
	{"container.envelope", "Конверт", "Конверт", "Envelope"},
	{"container.sack", "Қап", "Мешок", "Sack"},
	{"container.suitcase", "Чемодан", "Чемодан", "Suitcase"},
	{"container.other", "Басқа", "Другое", "Other"},
	{"sheet.conveyance", "Жеткізу тәсілі", "Способ доставки", "Conveyance"},
	{"sheet.courier", "Курьер", "Курьер", "Courier"},
	{"sheet.courier.hint", "Курьер жазбасының идентификаторы (диспетчерден).", "Идентификатор записи курьера (от диспетчера).", "The courier record's id (from the dispatcher)."},
	{"sheet.bearer", "Әкелуші (кеме командирі)", "Предъявитель (командир судна)", "Bearer (aircraft captain)"},
	{"sheet.until", "Жарамды мерзімі", "Действителен до", "Valid until"},
	{"sheet.print", "Басып шығару", "Напечатать", "Print"},
	{"conv.career_courier", "Штаттық курьер", "Штатный курьер", "Career courier"},
	{"conv.ad_hoc_courier", "Уақытша курьер", "Курьер ad hoc", "Ad hoc courier"},
	{"conv.aircraft_captain", "Әуе кемесінің командирі", "Командир воздушного судна", "Aircraft captain"},
	{"conv.freight", "Тасымалдаушы", "Перевозчик", "Carrier"},
	{"dispatch.document", "Әкелушінің құжаты", "Документ предъявителя", "Bearer's document"},
	{"dispatch.document.hint", "Курьер емес әкелуші үшін (кеме командирі).", "Для предъявителя, не являющегося курьером (командир судна).", "For a bearer who is not a courier (an aircraft captain)."},
	{"accept.seals", "Мөрлерді сканерлеу", "Сканирование печатей", "Seal scan"},
	{"accept.seals.hint", "Сканер әр мөрдің VS1: мәтінін бөлек жолға жазады.", "Сканер вводит текст VS1: каждой печати с новой строки.", "The scanner types each seal's VS1: text on a line of its own."},
	{"accept.camera", "Камерамен сканерлеу", "Сканировать камерой", "Scan with camera"},
	{"accept.counted", "Саналған орамдар", "Пересчитано мест", "Packages counted"},
	{"accept.intact", "Мөрлер бүтін бе", "Печати целы", "Seals intact"},
	{"accept.intact.scan", "Сканерлеу бойынша", "По сканированию", "As scanned"},
	{"form.place", "Орны", "Место", "Place"},
	{"form.note", "Ескертпе", "Примечание", "Note"},
	{"store.place", "Сақтау орны", "Место хранения", "Storage place"},
	{"store.custodian", "Жауапты", "Ответственный", "Custodian"},

	{"ev.who", "Кім", "Кто", "Who"},
	{"ev.when", "Қашан", "Когда", "When"},
	{"ev.where", "Қайда", "Где", "Where"},
	{"ev.custodian", "Кейін кімде", "После у кого", "Custodian after"},
	{"ev.reason", "Себебі", "Причина", "Reason"},
	{"ev.log", "Журнал", "Журнал", "Custody log"},
	{"proof.verified", "дәлел тексерілді", "доказательство проверено", "inclusion proof verified"},
	{"proof.failed", "дәлел ТЕКСЕРІЛМЕДІ", "доказательство НЕ прошло проверку", "inclusion proof FAILED"},
	{"proof.pending", "әлі бақылау нүктесінде жоқ", "ещё не в контрольной точке", "not yet in a checkpoint"},

	{"inc.class", "Түрі", "Вид", "Class"},
	{"inc.summary", "Не болды", "Что случилось", "Summary"},
	{"inc.opened", "Ашылды", "Открыт", "Opened"},
	{"inc.notify_due", "Хабарлау мерзімі", "Срок уведомления", "Notify by"},
	{"inc.close_due", "Жабу мерзімі", "Срок закрытия", "Close by"},
	{"inc.bag", "Вализа", "Вализа", "Bag"},
	{"inc.openbag", "Ашу", "Открыть", "Open"},
	{"inc.overdue", "мерзімі өтті", "просрочен", "overdue"},
	{"inc.notified", "хабарланды", "уведомлены", "notified"},
	{"class.breach", "Бұзушылық", "Нарушение", "Breach"},
	{"class.incident", "Оқиға", "Инцидент", "Incident"},

	{"sec.late", "Мерзімі өткен вализалар", "Просроченные вализы", "Overdue bags"},
	{"sec.overdue", "Үнсіз вализалар (қадағалау терезесінен тыс)", "Молчащие вализы (вне окна контроля)", "Silent bags (no custody event within their window)"},
	{"sec.lastevent", "Соңғы оқиға", "Последнее событие", "Last event"},
	{"sec.overdueby", "Кешігу", "Просрочка", "Overdue by"},
	{"sec.incidents", "Оқиғалар және жоғалту туралы хабарлар", "Инциденты и сообщения об утрате", "Incidents and loss reports"},
	{"sec.examining", "Бақылаумен ашу", "Вскрытия под надзором", "Supervised openings"},
	{"sec.examining.hint", "Ашуды тіркеу үшін вализаның бетін ашыңыз.", "Чтобы записать вскрытие, откройте страницу вализы.", "To record an opening, open the bag's page."},
	{"sec.missing", "Жоғалған вализалар", "Утраченные вализы", "Missing bags"},
	{"sec.decisions", "Шешімдер журналы", "Журнал решений", "Decision log"},
	{"sec.username", "Пайдаланушы", "Пользователь", "Username"},
	{"sec.filter", "Сүзу", "Фильтр", "Filter"},
	{"sec.action", "Әрекет", "Действие", "Action"},
	{"sec.resource", "Нысан", "Объект", "Resource"},
	{"sec.lockouts", "Бұғаттаулар", "Блокировки", "Lockouts"},
	{"sec.lockeduntil", "Бұғатталған мерзім", "Заблокирован до", "Locked until"},
	{"sec.lastfailure", "Соңғы сәтсіз кіру", "Последняя неудача", "Last failure"},
	{"sec.lift", "Бұғатты алу", "Снять блокировку", "Lift"},
	{"sec.locked", "бұғатталған", "заблокирован", "locked"},
	{"sec.keys", "Мөр кілттері және сенім тізімі", "Ключи печатей и список доверия", "Seal keys and trust list"},
	{"sec.trust", "Сенім тізімі", "Список доверия", "Trust list"},
	{"sec.stale", "ескіреді", "устаревает", "stale after"},
	{"sec.office", "Мекеме", "Учреждение", "Office"},
	{"sec.status", "Күйі", "Состояние", "Status"},
	{"sec.since", "Бастап", "С", "Since"},
	{"sec.age", "Жасы", "Возраст", "Age"},
	{"age.days", "%d күн", "%d дн.", "%d days"},
	{"sec.rotate", "Келесі ауыстыру", "Следующая ротация", "Next rotation"},
	{"sec.checkpoints", "Журнал бақылау нүктелері", "Контрольные точки журнала", "Custody log checkpoints"},
	{"sec.witnesses", "Куәгерлер", "Свидетели", "Witnesses"},
	{"sec.size", "Өлшемі", "Размер", "Size"},
	{"sec.cosigned", "Қол қойған куәгерлер", "Подписали свидетели", "Cosigned by"},
	{"security.lifted", "Бұғат алынды.", "Блокировка снята.", "The lock is lifted."},
	{"ex.opening", "Не болады", "Что делается", "What is done"},
	{"ex.open", "Ашу", "Вскрытие", "Opening"},
	{"ex.examine", "Ашпай тексеру", "Досмотр без вскрытия", "Examination without opening"},
	{"ex.body", "Бастамашы орган", "Инициирующий орган", "Initiating body"},
	{"ex.official", "Бастамашы лауазымды тұлға", "Инициирующее должностное лицо", "Initiating official"},
	{"ex.grounds", "Негіздер", "Основания", "Grounds"},
	{"ex.witness_kind", "Куәгер", "Свидетель", "Witness"},
	{"ex.witness.rep", "Уәкілетті өкіл", "Уполномоченный представитель", "Authorized representative"},
	{"ex.witness.courier", "Курьер", "Курьер", "Courier"},
	{"ex.witness_name", "Куәгердің аты", "Имя свидетеля", "Witness's name"},
	{"ex.witness_unit", "Куәгердің ұйымы", "Организация свидетеля", "Witness's unit"},
	{"ex.witness_courier", "Куәгер-курьер жазбасы", "Запись курьера-свидетеля", "Witness courier's record id"},

	{"pers.alerts", "Кадрлық ескертулер", "Кадровые напоминания", "Personnel alerts"},
	{"pers.due", "Мерзімі", "Срок", "Due"},
	{"pers.alert", "Не туралы", "О чём", "About"},
	{"pers.rule", "Ереже", "Норма", "Rule"},
	{"pers.search", "Қызметкерлерді іздеу", "Поиск сотрудников", "Staff search"},
	{"pers.unit", "Бөлімше", "Подразделение", "Unit"},
	{"pers.kind", "Санаты", "Категория", "Kind"},
	{"pers.find", "Іздеу", "Найти", "Find"},
	{"pers.number", "Табель нөмірі", "Табельный номер", "Personnel number"},
	{"pers.name", "Аты-жөні", "ФИО", "Name"},
	{"pers.rank", "Дипломатиялық дәреже", "Дипломатический ранг", "Rank"},
	{"pers.nextrank", "Келесі дәреже", "Следующий ранг", "Next rank"},
	{"pers.reached", "Ең аз мерзім өтті", "Минимальный срок истёк", "Minimum reached on"},
	{"pers.terminated", "қызметтен босатылған", "уволен", "terminated"},
	{"pers.eligible", "Келесі дәрежеге лайықты", "Имеют право на следующий ранг", "Eligible for the next rank"},
	{"pers.admitted", "Қабылданды", "Принят", "Admitted"},
	{"pers.since", "бастап", "с", "since"},
	{"pers.position", "Лауазымы", "Должность", "Position"},
	{"pers.account", "Есептік жазба", "Учётная запись", "Account"},
	{"pers.timeinrank", "Дәрежедегі мерзім", "Срок в ранге", "Time in rank"},
	{"pers.counted", "%d күн есептелді", "Засчитано %d дней", "%d days counted"},
	{"pers.minimum", "ең аз мерзім %d жыл", "минимум %d лет", "minimum %d years"},
	{"pers.iseligible", "лайықты", "имеет право", "eligible"},
	{"pers.noteligible", "әлі лайықты емес", "пока не имеет права", "not yet eligible"},
	{"pers.record", "Қызмет тізімі", "Послужной список", "Service record"},
	{"pers.date", "Күні", "Дата", "Date"},
	{"pers.change", "Өзгеріс", "Изменение", "Change"},
	{"pers.authority", "Кім берді", "Кем присвоен", "Authority"},
	{"pers.early", "мерзімінен бұрын", "досрочно", "early"},
	{"staffkind.diplomatic", "Дипломатиялық қызметкер", "Дипломатический сотрудник", "Diplomatic"},
	{"staffkind.admin_technical", "Әкімшілік-техникалық", "Административно-технический", "Administrative and technical"},

	{"level.UNCLASSIFIED", "Құпия емес", "Несекретно", "Unclassified"},
	{"level.RESTRICTED", "Қызмет бабында пайдалану үшін", "Для служебного пользования", "Restricted"},
	{"level.SECRET", "Құпия", "Секретно", "Secret"},
	{"level.TOP_SECRET", "Өте құпия", "Совершенно секретно", "Top secret"},
	{"level.SPECIAL_IMPORTANCE", "Аса маңызды", "Особой важности", "Special importance"},
	{"state.", "—", "—", "—"},
	{"state.planned", "Жоспарланған", "Запланирована", "Planned"},
	{"state.assembling", "Жиналуда", "Комплектуется", "Assembling"},
	{"state.sealed", "Мөрленген", "Опечатана", "Sealed"},
	{"state.dispatched", "Жөнелтілген", "Отправлена", "Dispatched"},
	{"state.in_transit", "Жолда", "В пути", "In transit"},
	{"state.delivered", "Жеткізілген", "Доставлена", "Delivered"},
	{"state.accepted", "Қабылданған", "Принята", "Accepted"},
	{"state.stored", "Сақтауда", "На хранении", "Stored"},
	{"state.under_examination", "Тексеруде", "На досмотре", "Under examination"},
	{"state.missing", "Жоғалған", "Утрачена", "Missing"},
	{"state.found", "Табылған", "Найдена", "Found"},
	{"state.compromised", "Бұзылған", "Скомпрометирована", "Compromised"},
	{"state.destroyed", "Жойылған", "Уничтожена", "Destroyed"},
}
