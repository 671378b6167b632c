"""The preview's picture as a workspace: wheel zoom, drag to pan, fit, click a box."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QSizePolicy,
)

from darknet_inspector.gui import palette

ZOOM_STEP = 1.25
MAX_ZOOM = 40.0
HIGHLIGHT = QColor(255, 255, 0)

Box = tuple[float, float, float, float]


def box_at(boxes: list[Box], x: float, y: float) -> int | None:
    """The index of the smallest box holding (x, y): the one a click most likely means."""
    inside = [(abs((b[2] - b[0]) * (b[3] - b[1])), i) for i, b in enumerate(boxes)
              if b[0] <= x <= b[2] and b[1] <= y <= b[3]]
    return min(inside)[1] if inside else None


class ImageCanvas(QGraphicsView):
    """Shows one picture; fitted to the view until the user zooms. `box_clicked(i)` when
    a click lands in box i of `set_boxes`; `highlight(i)` outlines box i."""

    box_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.pixmap_item = QGraphicsPixmapItem()
        self.pixmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.pixmap_item)
        self.marker = QGraphicsRectItem()
        pen = QPen(HIGHLIGHT, 3)
        pen.setCosmetic(True)  # the same width at any zoom
        self.marker.setPen(pen)
        self.marker.setZValue(1)
        self.marker.hide()
        self.scene().addItem(self.marker)
        self.placeholder = "Open or drop an image."
        self.boxes: list[Box] = []
        self.highlighted: int | None = None
        self.fitted = True
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(Qt.GlobalColor.white)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    @property
    def has_image(self) -> bool:
        return not self.pixmap_item.pixmap().isNull()

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_image(self, image: QImage | None, keep_view: bool = False) -> None:
        """A new picture; `keep_view` keeps zoom and position (the same image redrawn)."""
        same_size = (image is not None and self.has_image
                     and self.pixmap_item.pixmap().size() == image.size())
        self.pixmap_item.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())
        self.scene().setSceneRect(QRectF(self.pixmap_item.pixmap().rect()))
        if not (keep_view and same_size):
            self.fit()
        self.viewport().update()

    def set_boxes(self, boxes: list[Box]) -> None:
        self.boxes = list(boxes)
        self.highlight(None)

    def highlight(self, index: int | None) -> None:
        self.highlighted = index if index is not None and 0 <= index < len(self.boxes) else None
        if self.highlighted is None:
            self.marker.hide()
            return
        x1, y1, x2, y2 = self.boxes[self.highlighted]
        self.marker.setRect(QRectF(x1, y1, x2 - x1, y2 - y1))
        self.marker.show()
        if not self.fitted:
            self.ensureVisible(self.marker)

    # -- zoom -----------------------------------------------------------------------------
    def fit(self) -> None:
        self.fitted = True
        self.resetTransform()
        if self.has_image:
            self.fitInView(self.pixmap_item, Qt.AspectRatioMode.KeepAspectRatio)

    def zoom_by(self, factor: float) -> None:
        if not self.has_image:
            return
        factor = max(min(factor, MAX_ZOOM / max(self.zoom, 1e-9)), 0.05 / max(self.zoom, 1e-9))
        self.fitted = False
        self.scale(factor, factor)

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(ZOOM_STEP ** steps)
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.fitted:
            self.fit()

    def mouseDoubleClickEvent(self, event) -> None:
        self.fit()
        event.accept()

    def mousePressEvent(self, event) -> None:
        self._press = event.position()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        start = getattr(self, "_press", None)
        if start is not None and (event.position() - start).manhattanLength() < 4:
            self.click_at(self.mapToScene(event.position().toPoint()))

    def click_at(self, point: QPointF) -> None:
        """A click (not a drag) at a scene point: pick the box there."""
        index = box_at(self.boxes, point.x(), point.y())
        self.highlight(index)
        if index is not None:
            self.box_clicked.emit(index)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self.has_image:
            return
        scene_transform, pen = painter.worldTransform(), painter.pen()
        painter.resetTransform()  # the hint in view coordinates
        painter.setPen(palette.MUTED_TEXT)
        painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
        painter.setWorldTransform(scene_transform)
        painter.setPen(pen)
