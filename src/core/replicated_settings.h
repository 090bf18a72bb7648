/*
 * src/core/replicated_settings.h
 *	  Rows of geoshard.settings that override a worker's geoshard.* settings.
 */
#ifndef GEOSHARD_CORE_REPLICATED_SETTINGS_H
#define GEOSHARD_CORE_REPLICATED_SETTINGS_H

extern void GeoshardApplyReplicatedSettings(const char *const *names);

#endif							/* GEOSHARD_CORE_REPLICATED_SETTINGS_H */
