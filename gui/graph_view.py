"""The graph view: one node per layer, data-flow edges (route, shortcut, sam,
scale_channels sources), laid out top to bottom by core.graph_layout (our own layered
layout; its docstring says why no library). Wheel zooms, dragging pans; nodes are
coloured by the byte ledger (ok / partial / missing / after the first bad layer) and
labelled with type, key options and output shape; the first layer where cfg and
weights disagree (the top diagnosis finding) is orange, as in the layer tree. Clicking a node emits
`layer_activated`; `select_layer` highlights a node and scrolls to it."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from darknet_inspector.core.graph_layout import layered_layout
from darknet_inspector.core.model_state import UNREAD
from darknet_inspector.gui import palette
from darknet_inspector.gui.document import ModelDocument
from darknet_inspector.gui.layer_model import shape_text

NODE_W, NODE_H = 214.0, 46.0
GAP_X, GAP_Y = 40.0, 26.0
STATUS_FILL = {"ok": QColor("#d7f0dc"), "partial": palette.ERROR_STRONG,
               "missing": palette.ERROR_LIGHT, "none": QColor("#eef1f4"),
               UNREAD: QColor("#ffffff")}
EDGE_PEN = QPen(QColor("#7a8590"), 1.4)
SELECTED_PEN = QPen(QColor("#1a73e8"), 3.0)
NODE_PEN = QPen(QColor("#5f6368"), 1.0)
DIVERGENT_PEN = QPen(palette.DIVERGENT_TEXT, 2.5)  # the diagnosis' first divergent layer


class LayerNode(QGraphicsRectItem):
    """One layer: a rounded box with its index, type, options and output shape."""

    def __init__(self, index: int, title: str, detail: str):
        super().__init__(0, 0, NODE_W, NODE_H)
        self.index = index
        self.setPen(NODE_PEN)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        bold = QFont()
        bold.setBold(True)
        head = QGraphicsSimpleTextItem(title, self)
        head.setFont(bold)
        head.setPos(6, 4)
        body = QGraphicsSimpleTextItem(detail, self)
        body.setPos(6, 24)
        body.setBrush(QBrush(QColor("#3c4043")))


class GraphView(QGraphicsView):
    layer_activated = Signal(int)

    def __init__(self, document: ModelDocument, parent=None):
        super().__init__(parent)
        self.doc = document
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self._nodes: list[LayerNode] = []
        self.selected: int | None = None
        self._stale = False  # colours to redo when next shown (hidden, nothing is drawn)
        self._unbuilt = False  # the nodes to build again when next shown or asked for
        document.network_changed.connect(self.rebuild)
        document.stream_ended.connect(self.recolour)
        document.weights_cleared.connect(self.recolour)
        document.problems_changed.connect(self.recolour)
        self.rebuild()

    @property
    def nodes(self) -> list[LayerNode]:
        """One node per layer (built now if the network changed while hidden)."""
        self._ensure_built()
        return self._nodes

    def rebuild(self) -> None:
        """A new network: new nodes, built at once when the tab shows, else when it is
        next shown (a hidden tab's 162 nodes for yolov4 cost ~70 ms of the UI thread at
        every cfg opened, the app's start included: issue 15)."""
        self.selected = None
        if not self.isVisible():
            self._unbuilt = True
            return
        self._rebuild()

    def _ensure_built(self) -> None:
        if self._unbuilt:
            self._rebuild()

    def _rebuild(self) -> None:
        self._unbuilt = False
        scene = self.scene()
        scene.clear()
        self._nodes = []
        network = self.doc.network
        if network is None:
            return
        layout = layered_layout(network)
        positions = [QPointF(column * (NODE_W + GAP_X), row * (NODE_H + GAP_Y))
                     for row, column in zip(layout.rows, layout.columns)]
        for source, target in layout.edges:
            scene.addItem(_edge(positions[source], positions[target]))
        for layer, position in zip(network.layers, positions):
            node = LayerNode(layer.index, f"{layer.index}  {layer.type}",
                             f"{layer.summary[:26]}  \u2192 {shape_text(layer.output_shape)}")
            node.setPos(position)
            node.setToolTip(f"[{layer.section.name}] cfg line {layer.line}\n{layer.summary}")
            scene.addItem(node)
            self._nodes.append(node)
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-40, -40, 40, 40))
        self._recolour()
        if self.selected is not None and self.selected < len(self._nodes):
            self.ensureVisible(self._nodes[self.selected], 60, 60)  # chosen while hidden

    def recolour(self) -> None:
        """The nodes' fills and outlines from the document; while the tab is hidden only
        noted (a weights stream changes them at its start and end, 162 nodes for yolov4:
        ~20 ms of the UI thread nobody sees), and done when it is shown or asked."""
        if not self.isVisible():
            self._stale = True
            return
        self._recolour()

    def _recolour(self) -> None:
        self._stale = False
        bad = self.doc.first_bad_layer()
        divergent = self.doc.divergent_layer()
        for node in self._nodes:
            status = self.doc.layer_status(node.index)
            fill = STATUS_FILL.get(status, STATUS_FILL["none"])
            if bad is not None and node.index > bad and status in ("none", UNREAD):
                fill = palette.ERROR_LIGHT
            if node.index in self.doc.error_layers() and status != "partial":
                fill = palette.ERROR_LIGHT
            if node.index == divergent and status != "partial":  # the tree's order too
                fill = palette.DIVERGENT
            node.setBrush(QBrush(fill))
            node.setPen(self._pen(node.index))

    def _pen(self, index: int) -> QPen:
        if index == self.selected:
            return SELECTED_PEN
        return DIVERGENT_PEN if index == self.doc.divergent_layer() else NODE_PEN

    def status_colour(self, index: int) -> QColor:
        self._ensure_built()
        if self._stale:
            self._recolour()
        return self._nodes[index].brush().color()

    def showEvent(self, event) -> None:
        self._ensure_built()
        if self._stale:
            self._recolour()
        super().showEvent(event)

    def select_layer(self, index: int) -> None:
        """Highlight a layer's node and bring it into view (no signal); while the nodes
        wait to be built, only noted."""
        if self._unbuilt:
            if 0 <= index < len(self.doc.layers):
                self.selected = index
            return
        if not 0 <= index < len(self._nodes):
            return
        previous, self.selected = self.selected, index
        if previous is not None and previous < len(self._nodes):
            self._nodes[previous].setPen(self._pen(previous))
        self._nodes[index].setPen(SELECTED_PEN)
        self.ensureVisible(self._nodes[index], 60, 60)

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        item = self.itemAt(event.position().toPoint())
        while item is not None and not isinstance(item, LayerNode):
            item = item.parentItem()
        if isinstance(item, LayerNode):
            self.select_layer(item.index)
            self.layer_activated.emit(item.index)

    def wheelEvent(self, event) -> None:
        factor = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
        scale = self.transform().m11() * factor
        if 0.05 <= scale <= 4:
            self.scale(factor, factor)

    def fit(self) -> None:
        self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)


def _edge(start: QPointF, end: QPointF) -> QGraphicsPathItem:
    """A curve from the bottom of the source to the top of the target; an edge that
    skips rows in the same column bends out to the side so it does not cross nodes."""
    a = QPointF(start.x() + NODE_W / 2, start.y() + NODE_H)
    b = QPointF(end.x() + NODE_W / 2, end.y())
    path = QPainterPath(a)
    if abs(a.x() - b.x()) < 1 and b.y() - a.y() > NODE_H:
        side = a.x() + NODE_W / 2 + 14
        path.cubicTo(QPointF(side + 20, a.y()), QPointF(side + 20, b.y()), b)
    else:
        middle = (a.y() + b.y()) / 2
        path.cubicTo(QPointF(a.x(), middle), QPointF(b.x(), middle), b)
    item = QGraphicsPathItem(path)
    item.setPen(EDGE_PEN)
    item.setZValue(-1)
    return item
