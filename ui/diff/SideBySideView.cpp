// SPDX-License-Identifier: Apache-2.0
#include "SideBySideView.h"

#include "SideBySideModel.h"

#include <QEvent>
#include <QFontDatabase>
#include <QHeaderView>
#include <QLabel>
#include <QPainter>
#include <QScrollBar>
#include <QSplitter>
#include <QStackedWidget>
#include <QStyledItemDelegate>
#include <QTableView>
#include <QVBoxLayout>

namespace fluid::ui {

namespace {

/// Paints one cell of a pane: the line's background by kind, the differing spans on top, then the text
/// (tabs shown as one space so span offsets stay character offsets).
class LineDelegate : public QStyledItemDelegate {
public:
    explicit LineDelegate(const DiffPalette* palette, QObject* parent)
        : QStyledItemDelegate(parent)
        , m_palette(palette)
    {
    }

    void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override
    {
        using Kind = SideBySideModel::Kind;
        const auto kind = Kind(index.data(SideBySideModel::KindRole).toInt());
        const bool number = index.column() == SideBySideModel::OldNumberColumn ||
                            index.column() == SideBySideModel::NewNumberColumn;
        QColor background;
        QColor span;
        switch (kind) {
        case Kind::Removed:
            background = m_palette->removedLine;
            span = m_palette->removedSpan;
            break;
        case Kind::Added:
            background = m_palette->addedLine;
            span = m_palette->addedSpan;
            break;
        case Kind::Filler:
            background = m_palette->filler;
            break;
        case Kind::Header:
            background = m_palette->header;
            break;
        case Kind::Context:
            break;
        }
        painter->save();
        if (background.isValid())
            painter->fillRect(option.rect, background);
        const QFontMetrics metrics(option.font);
        const int pad = 4;
        const QRect textRect = option.rect.adjusted(pad, 0, -pad, 0);
        QString text = index.data().toString();
        text.replace(QLatin1Char('\t'), QLatin1Char(' '));
        if (!number && span.isValid()) {
            for (const QPoint& s : index.data(SideBySideModel::SpansRole).value<QList<QPoint>>()) {
                const int x = metrics.horizontalAdvance(text.left(s.x()));
                const int w = std::max(2, metrics.horizontalAdvance(text.mid(s.x(), s.y())));
                painter->fillRect(QRect(textRect.left() + x, option.rect.top(), w, option.rect.height()),
                                  span);
            }
        }
        painter->setFont(option.font);
        painter->setPen(number || kind == Kind::Header ? m_palette->lineNumber
                                                       : option.palette.color(QPalette::Text));
        painter->drawText(
            textRect, int(number ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignVCenter | Qt::TextSingleLine,
            text);
        if (option.state & QStyle::State_HasFocus) {
            painter->setPen(option.palette.color(QPalette::Highlight));
            painter->drawRect(option.rect.adjusted(0, 0, -1, -1));
        }
        painter->restore();
    }

    QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override
    {
        const QFontMetrics metrics(option.font);
        return {metrics.horizontalAdvance(index.data().toString()) + 8, metrics.height() + 2};
    }

private:
    const DiffPalette* m_palette;
};

} // namespace

SideBySideView::SideBySideView(QWidget* parent)
    : QWidget(parent)
    , m_model(new SideBySideModel(this))
    , m_stack(new QStackedWidget)
    , m_message(new QLabel)
    , m_title(new QLabel)
    , m_palette(DiffPalette::from(palette()))
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_title->setObjectName(QStringLiteral("sideBySideTitle"));
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_title);

    m_old = makePane(QStringLiteral("oldPane"), tr("Before: old lines with line numbers"));
    m_new = makePane(QStringLiteral("newPane"), tr("After: new lines with line numbers"));
    m_old->setColumnHidden(SideBySideModel::NewNumberColumn, true);
    m_old->setColumnHidden(SideBySideModel::NewTextColumn, true);
    m_new->setColumnHidden(SideBySideModel::OldNumberColumn, true);
    m_new->setColumnHidden(SideBySideModel::OldTextColumn, true);
    // Rows have one height on both sides, so equal scroll values show the same rows.
    connect(m_old->verticalScrollBar(), &QScrollBar::valueChanged, m_new->verticalScrollBar(),
            &QScrollBar::setValue);
    connect(m_new->verticalScrollBar(), &QScrollBar::valueChanged, m_old->verticalScrollBar(),
            &QScrollBar::setValue);
    connect(m_old->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex& current) { m_new->selectRow(current.row()); });

    auto* splitter = new QSplitter(Qt::Horizontal);
    splitter->setObjectName(QStringLiteral("sideBySideSplitter"));
    splitter->setChildrenCollapsible(false);
    splitter->addWidget(m_old);
    splitter->addWidget(m_new);
    m_stack->addWidget(splitter);

    m_message->setObjectName(QStringLiteral("sideBySideMessage"));
    m_message->setAccessibleName(tr("File difference"));
    m_message->setWordWrap(true);
    m_message->setAlignment(Qt::AlignCenter);
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_message->setMargin(12);
    m_stack->addWidget(m_message);
    layout->addWidget(m_stack, 1);
    setEntry({});
}

QTableView* SideBySideView::makePane(const QString& name, const QString& accessible)
{
    auto* view = new QTableView;
    view->setObjectName(name);
    view->setAccessibleName(accessible);
    view->setModel(m_model);
    view->setItemDelegate(new LineDelegate(&m_palette, view));
    view->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    view->setShowGrid(false);
    view->setWordWrap(false);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(QAbstractItemView::SingleSelection);
    view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    view->setHorizontalScrollMode(QAbstractItemView::ScrollPerPixel);
    view->verticalHeader()->hide();
    view->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    view->verticalHeader()->setDefaultSectionSize(QFontMetrics(view->font()).height() + 2);
    view->horizontalHeader()->hide();
    view->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    view->horizontalHeader()->setStretchLastSection(true);
    view->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOn);
    return view;
}

void SideBySideView::setEntry(const QJsonObject& entry)
{
    if (entry.isEmpty()) {
        m_model->clear();
        m_title->setText(tr("Select a changed file to see its lines side by side."));
        m_message->setText(tr("No file selected."));
        m_stack->setCurrentWidget(m_message);
        return;
    }
    m_model->setEntry(entry);
    m_title->setText(QStringLiteral("%1  (%2)")
                         .arg(entry.value(QStringLiteral("path")).toString(),
                              entry.value(QStringLiteral("change")).toString()));
    if (m_model->rowCount() == 0) {
        m_message->setText(m_model->message());
        m_stack->setCurrentWidget(m_message);
    } else {
        m_stack->setCurrentIndex(0);
        m_old->scrollToTop();
        m_new->scrollToTop();
    }
}

bool SideBySideView::showsMessage() const
{
    return m_stack->currentWidget() == m_message;
}

void SideBySideView::changeEvent(QEvent* event)
{
    if (event->type() == QEvent::PaletteChange)
        applyPalette();
    QWidget::changeEvent(event);
}

void SideBySideView::applyPalette()
{
    m_palette = DiffPalette::from(palette());
    m_old->viewport()->update();
    m_new->viewport()->update();
}

} // namespace fluid::ui
