"""Russian and English demo stories (invented for tests)."""

from __future__ import annotations

from streams.demo.story import Story, kyiv

BORDER_RU = Story(
    key="border-ru",
    lang="ru",
    path="/ru/diplomatiya/2024/03/12/ukraina-i-moldova-sovmestnyi-kontrol-na-granice.html",
    section="Дипломатия",
    title="Украина и Молдова введут совместный контроль еще на двух пунктах пропуска",
    description="Пограничники двух стран будут проверять людей и грузы в одном месте.",
    lead=(
        "Украина и Молдова до конца мая введут совместный пограничный и таможенный контроль на "
        "пунктах пропуска «Долинское» и «Старокозачье», договорились министры иностранных дел "
        "двух стран во время встречи в Кишиневе."
    ),
    paragraphs=(
        "По словам участников переговоров, грузовики и автобусы будут проходить проверку один "
        "раз, а не дважды, как сейчас. Ожидается, что время ожидания на границе сократится "
        "примерно вдвое, особенно в выходные дни.",
        "Стороны также согласовали создание рабочей группы, которая до осени должна подготовить "
        "аналогичные решения для железнодорожного сообщения между Одессой и Кишиневом.",
        "«Мы говорим не о декларациях, а о конкретных километрах очередей, которые исчезнут уже "
        "этим летом», — сказал на совместной пресс-конференции представитель украинского МИД.",
        "Молдавская сторона подчеркнула, что обустройство пунктов пропуска частично "
        "профинансирует программа приграничного сотрудничества Европейского союза.",
        "Ранее подобная схема заработала на пункте «Паланка — Маяки-Удобное», где, по данным "
        "таможенников, пропускная способность выросла на треть.",
    ),
    author="Елена Гребенюк",
    published=kyiv(12, 14, 5),
    photo_caption="Очередь грузовиков на пункте пропуска",
    photo_credit="Фото: пресс-служба ГПСУ",
    read_also=(
        "Кабмин упростил пересечение границы для водителей гуманитарных грузов",
        "/ru/obshchestvo/2024/03/11/uproshchenie-dlya-voditelei.html",
    ),
    tags=("Молдова", "граница", "МИД"),
    topic="diplomacy",
)

# Served as windows-1251: every character here must exist in that code page.
FRAUD_RU = Story(
    key="fraud-ru",
    lang="ru",
    path="/ru/kriminal/2024/03/13/harkov-moshenniki-sluzhba-bezopasnosti-banka.html",
    section="Криминал",
    title="В Харькове задержали группу, выманивавшую деньги от имени «службы безопасности банка»",
    description="Участники схемы звонили пенсионерам и убеждали перевести сбережения.",
    lead=(
        "Полиция Харьковской области задержала пятерых участников группы, которые звонили "
        "пенсионерам от имени «службы безопасности банка» и убеждали их перевести сбережения на "
        "«защищённый счёт»."
    ),
    paragraphs=(
        "По данным следствия, за полгода злоумышленники обманули не менее 60 человек из разных "
        "областей. Общая сумма ущерба превышает 3,2 млн гривен.",
        "Колл-центр работал в арендованной квартире в Основянском районе. Во время обысков "
        "изъяты 40 мобильных телефонов, сим-карты и черновые записи со сценариями разговоров.",
        "Задержанным сообщено о подозрении в мошенничестве, совершённом организованной группой. "
        "Им грозит до 12 лет лишения свободы с конфискацией имущества.",
        "В полиции напоминают: сотрудники банка никогда не просят назвать код из SMS или "
        "перевести деньги на другой счёт. При таком звонке нужно прервать разговор и "
        "перезвонить по номеру, указанному на карте.",
    ),
    author="Игорь Лещенко",
    published=kyiv(13, 11, 20),
    photo_caption="Изъятые во время обыска телефоны",
    photo_credit="Фото: ГУНП в Харьковской области",
    read_also=(
        "В Днепре будут судить «сборщиков» средств на несуществующий фонд",
        "/ru/kriminal/2024/03/09/dnepr-fond-sud.html",
    ),
    tags=("мошенничество", "полиция", "Харьков"),
    topic="crime",
    charset="windows-1251",
)

ICE_RU = Story(
    key="ice-ru",
    lang="ru",
    path="/ru/proisshestviya/2024/03/17/odesskaya-oblast-ledyanoi-dozhd-bez-sveta.html",
    section="Происшествия",
    title="В Одесской области из-за ледяного дождя без света остались 40 населённых пунктов",
    description="Энергетики работают в усиленном режиме, на трассах введены ограничения.",
    lead=(
        "Из-за ледяного дождя и порывистого ветра в ночь на воскресенье в Одесской области "
        "обесточены 40 населённых пунктов, сообщили в областной военной администрации."
    ),
    paragraphs=(
        "Больше всего пострадали Подольский и Березовский районы, где обледенение оборвало "
        "провода на нескольких линиях электропередачи.",
        "Энергетики работают в усиленном режиме; к полудню электроснабжение вернули в 17 сёлах. "
        "Полностью восстановить его рассчитывают до вечера понедельника.",
        "На трассе Одесса — Киев ограничено движение грузовиков, дорожные службы обрабатывают "
        "покрытие противогололёдной смесью.",
        "Спасатели просят водителей без крайней необходимости не выезжать за пределы городов.",
    ),
    author="Наталья Руденко",
    published=kyiv(17, 10, 2),
    photo_caption="Обледеневшие провода в селе Подольского района",
    photo_credit="Фото: ДТЭК Одесские электросети",
    read_also=(
        "Синоптики предупредили о гололёде на юге до среды",
        "/ru/obshchestvo/2024/03/16/gololed-na-yuge.html",
    ),
    tags=("непогода", "электроснабжение"),
    topic="emergencies",
)

SUBSTATION_EN = Story(
    key="substation-en",
    lang="en",
    path="/en/war/2024/03/13/drone-strike-substation-power-restored.html",
    section="War",
    title="Overnight drone strike damages substation in northern region, power restored by dawn",
    description="Repair crews reconnected around 12,000 households within six hours.",
    lead=(
        "A drone strike overnight damaged an electrical substation in the northern Chernihiv "
        "region, cutting power to around 12,000 households, the regional grid operator said."
    ),
    paragraphs=(
        "Crews were able to reach the site once the air-raid alert ended shortly after 3 a.m. "
        "and had reconnected all consumers by 9 a.m. using a bypass line.",
        "The operator said one transformer was destroyed and would take several weeks to "
        "replace. Until then, the area will be supplied at reduced capacity.",
        "Local officials urged residents to keep power banks charged and follow announcements "
        "about possible rolling outages during evening peak hours.",
        "No casualties were reported. Police have opened an investigation into the strike as a "
        "violation of the laws and customs of war.",
    ),
    author="Daniel Ostrowski",
    published=kyiv(13, 10, 15),
    photo_caption="Repair crews at the damaged substation",
    photo_credit="Photo: regional grid operator",
    read_also=(
        "Energy ministry outlines plan to protect transformers before winter",
        "/en/economy/2024/03/08/energy-ministry-transformers-plan.html",
    ),
    tags=("energy", "drones", "Chernihiv"),
    topic="war",
)

RATE_EN = Story(
    key="rate-en",
    lang="en",
    path="/en/economy/2024/03/14/central-bank-holds-key-rate.html",
    section="Economy",
    title="Central bank holds key rate at 14.5% and signals cuts later in the year",
    description="Policymakers cited slowing inflation but warned of risks from energy prices.",
    lead=(
        "The central bank left its key policy rate unchanged at 14.5% on Thursday, saying "
        "inflation was slowing faster than expected but that it was too early to ease policy."
    ),
    paragraphs=(
        "Annual consumer price growth fell to 4.3% in February, the lowest reading in almost "
        "three years, helped by a strong harvest and a stable exchange rate.",
        "The bank said it could begin lowering the rate in the second half of the year if "
        "inflation expectations keep falling and international financing arrives on schedule.",
        "Analysts at two local investment firms said the decision matched their forecasts and "
        "that the first cut would most likely come in July.",
        "The board warned that further damage to energy infrastructure could push up "
        "electricity tariffs and reverse part of the recent slowdown in prices.",
    ),
    author="Maria Kowalenko",
    published=kyiv(14, 14, 0),
    photo_caption="The central bank building",
    photo_credit="Photo: Daily Herald archive",
    read_also=(
        "Hryvnia steady as interbank demand eases",
        "/en/economy/2024/03/12/hryvnia-steady-interbank.html",
    ),
    tags=("central bank", "inflation", "interest rates"),
    topic="economy",
)

STORIES_RU_EN = (BORDER_RU, FRAUD_RU, ICE_RU, SUBSTATION_EN, RATE_EN)
