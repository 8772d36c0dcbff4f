/** Brain pictures and leaderboard charts (see colors.ts for the colour schemes). */
export {
  drawRunMaps, drawModelGrid, mapRoiSets, selectorLayout, selectorPanelBox, selectorMapBox, weightColorMax, imagePositionPixel, R2_BAR_TITLE, gridLayout, gridPanelBox, gridMapBox, gridMapGeometry, runMapGeometry, MAP_BOX, MAP_WIDTH, MAP_HEIGHT, RUN_MAP_KINDS, SCHEME_TEXT, type DrawOptions, type RunMapKind,
} from './maps.js';
export { drawRoiBars, drawHierarchyBars, sizeRank, CHART_WIDTH, CHART_HEIGHT, ERROR_BAR_COLOR, HIERARCHY_COLORS, type ErrorBarPixels, type RoiBarEntry, type RoiBarOptions, type HierarchyBarEntry } from './charts.js';
export { listRuns, readRunArrays, readRunInfo, roiMeanR2, runHierarchy, CHART_ROIS, type RunArrays, type RunInfo, type RunRef } from './runs.js';
export { mapGeometry, argmaxLayer, layerColors, roiOverlay, pixelOwners, voxelReach, type MapGeometry, type Box, type RoiOverlay, type RoiLabel } from './brainmap.js';
export * from './colors.js';
export { Picture, pictureFormat, formatOfFile, PICTURE_FORMATS, type PictureFormat } from './canvas.js';
